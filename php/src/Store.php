<?php

declare(strict_types=1);

namespace Hitmap;

use FFI;
use FFI\CData;

/**
 * A hitmap store: ingest hits, answer Matomo-style Reporting API requests.
 *
 * ```php
 * $hm = Hitmap\Store::open('/var/lib/hitmap', libPath: '/usr/local/lib/libhitmap_ffi.so');
 * $hm->addSite(1, timezone: 'Europe/London');
 * $result = $hm->ingestNdjson($bytes);   // ['accepted' => 1000, 'rejected' => [['line' => 7, 'reason' => '...']]]
 * $summary = $hm->api('method=VisitsSummary.get&idSite=1&period=month&date=last12');
 * ```
 *
 * One writer per store folder at a time (others get HITMAP_ERR_LOCKED);
 * any number of openReadOnly() readers. The handle is freed when the
 * object goes away.
 */
final class Store
{
    private FFI $ffi;
    private ?CData $handle;

    private function __construct(FFI $ffi, CData $handle)
    {
        $this->ffi = $ffi;
        $this->handle = $handle;
    }

    /** Opens (creating if missing) a store folder for reading and writing. */
    public static function open(string $path, ?string $libPath = null): self
    {
        return self::make($libPath, fn (FFI $f, CData $out) => $f->hitmap_store_open($path, $out));
    }

    /**
     * Opens an existing store for queries only, while a writer goes on.
     * The reader is lazy: it reads day archives as queries need them.
     *
     * @param string $location a store folder, or the object store URL it
     *     was published to (`s3://bucket/prefix`, `gs://…`, `az://…`)
     * @param array{cache_mb?: int, max_age_ms?: int, storage_options?: array<string, string>} $options
     *     memory for day archives between requests; an age after which a
     *     request first picks up newer commits (a PHP-FPM worker keeps its
     *     store between requests); object_store settings over the
     *     environment's (`aws_endpoint`, `aws_allow_http`, …)
     */
    public static function openReadOnly(string $location, ?string $libPath = null, array $options = []): self
    {
        $json = json_encode((object) $options, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES);
        return self::make($libPath, fn (FFI $f, CData $out) => $f->hitmap_store_open_reader($location, $json, $out));
    }

    /**
     * Picks up the store's newest commit (a reader), keeping cached days
     * whose files did not change; whether there was a newer one.
     */
    public function refresh(): bool
    {
        $changed = $this->ffi->new('uint32_t');
        self::check($this->ffi, $this->ffi->hitmap_store_refresh($this->handle(), FFI::addr($changed)));
        return $changed->cdata === 1;
    }

    /**
     * How many threads one query may use: 0 is one per core. A Store
     * starts with 1, since PHP-FPM already runs one worker per core and
     * some hosts forbid threads; a CLI script may ask for 0.
     */
    public function setQueryThreads(int $threads): void
    {
        if ($threads < 0) {
            throw new \InvalidArgumentException("threads must be 0 (one per core) or more, got $threads");
        }
        self::check($this->ffi, $this->ffi->hitmap_store_set_query_threads($this->handle(), $threads));
    }

    /** An engine that keeps nothing on disk (tests, one-off reports). */
    public static function inMemory(?string $libPath = null): self
    {
        return self::make($libPath, fn (FFI $f, CData $out) => $f->hitmap_store_new_in_memory($out));
    }

    /** @param callable(FFI, CData): int $open */
    private static function make(?string $libPath, callable $open): self
    {
        $ffi = Library::load($libPath);
        $handle = $ffi->new('hitmap_store*');
        self::check($ffi, $open($ffi, FFI::addr($handle)));
        $store = new self($ffi, $handle);
        $store->setQueryThreads(1);
        return $store;
    }

    /**
     * Adds or updates a site.
     *
     * @param list<string> $hosts the site's own host names (direct referrers)
     * @param array<string, list<string>> $sections name => path prefixes
     * @param list<string> $dimensions custom dimensions segments may name
     * @param bool $ecommerce an ecommerce site: its orders and abandoned
     *                        carts (`order` and `cart` hits) are reported
     * @param string|null $name the site's name (MultiSites, SitesManager)
     * @param string|null $mainUrl the site's main URL, with its scheme
     * @param list<string> $excludedIps Matomo's excluded IPs: addresses,
     *                                  ranges (10.0.0.0/8), wildcards (192.168.*.*)
     * @param list<string> $excludedUserAgents requests whose user agent
     *                                         holds one (any case) are dropped
     * @param bool $excludeUnknownUrls drop requests to URLs off the
     *                                 site's hosts and main URL
     * @param list<string> $excludedParameters Matomo's excluded query
     *                                         parameters, stripped (any case) from the page URLs
     *                                         the tracker records, with Matomo's default session ids
     */
    public function addSite(
        int $id,
        string $timezone = 'UTC',
        int $visitTimeout = 1800,
        array $hosts = [],
        array $sections = [],
        array $dimensions = [],
        bool $ecommerce = false,
        ?string $name = null,
        ?string $mainUrl = null,
        array $excludedIps = [],
        array $excludedUserAgents = [],
        bool $excludeUnknownUrls = false,
        array $excludedParameters = [],
    ): void {
        $spec = [
            'id' => $id,
            'timezone' => $timezone,
            'visit_timeout' => $visitTimeout,
            'hosts' => array_values($hosts),
            'sections' => (object) $sections,
            'dimensions' => array_values($dimensions),
            'ecommerce' => $ecommerce,
            'name' => $name,
            'main_url' => $mainUrl,
            'excluded_ips' => array_values($excludedIps),
            'excluded_user_agents' => array_values($excludedUserAgents),
            'exclude_unknown_urls' => $excludeUnknownUrls,
            'excluded_parameters' => array_values($excludedParameters),
        ];
        self::check($this->ffi, $this->ffi->hitmap_store_add_site($this->handle(), json_encode($spec, JSON_THROW_ON_ERROR)));
    }

    /**
     * Adds a goal to a site, or replaces the site's goal with its id.
     * Goals are evaluated over the stored actions when asked: a goal
     * added today answers for every past day (docs/goals.md).
     *
     * @param string $match url, title, file, external_website,
     *     event_category, event_action, event_name or manually
     * @param string $patternType contains, exact or regex
     */
    public function setGoal(
        int $site,
        int $id,
        string $name,
        string $match = 'url',
        string $pattern = '',
        string $patternType = 'contains',
        bool $caseSensitive = false,
        bool $allowMultiple = false,
        float $revenue = 0.0,
        bool $eventValueAsRevenue = false,
        string $description = '',
    ): void {
        $goal = [
            'idgoal' => $id,
            'name' => $name,
            'match_attribute' => $match,
            'pattern' => $pattern,
            'pattern_type' => $patternType,
            'case_sensitive' => $caseSensitive,
            'allow_multiple' => $allowMultiple,
            'revenue' => $revenue,
            'event_value_as_revenue' => $eventValueAsRevenue,
            'description' => $description,
        ];
        self::check($this->ffi, $this->ffi->hitmap_store_set_goal($this->handle(), $site, json_encode($goal, JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION)));
    }

    /** Removes a site's goal; whether the site had one with that id. */
    public function removeGoal(int $site, int $id): bool
    {
        $removed = $this->ffi->new('uint8_t');
        self::check($this->ffi, $this->ffi->hitmap_store_remove_goal($this->handle(), $site, $id, FFI::addr($removed)));
        return $removed->cdata === 1;
    }

    /**
     * Ingests NDJSON hits (one per line) as one batch. Bad lines are
     * rejected with their line number and reason; the rest go in.
     *
     * @return array{accepted: int, rejected: list<array{line: int, reason: string}>}
     */
    public function ingestNdjson(string $bytes): array
    {
        $len = strlen($bytes);
        $buf = null;
        if ($len > 0) {
            $buf = $this->ffi->new("uint8_t[$len]", false);
            FFI::memcpy($buf, $bytes, $len);
        }
        $out = $this->ffi->new('char*');
        try {
            self::check($this->ffi, $this->ffi->hitmap_store_ingest_ndjson($this->handle(), $buf, $len, FFI::addr($out)));
        } finally {
            if ($buf !== null) {
                FFI::free($buf);
            }
        }
        return json_decode($this->take($out), true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Imports web-server access logs (gzip, bzip2 and zstd recognised)
     * with the rules of Matomo's log importer: the same importer as
     * `hitmap ingest --log-format` and Python's `Engine.ingest_log`.
     * `$options` are the CLI's flags: `['log-format' => 'combined',
     * 'idsite' => 1, 'enable-static' => true, 'exclude-path' => ['/admin/*']]`.
     *
     * @param list<string> $paths
     * @param array<string, scalar|list<scalar>> $options
     * @return array{lines: int, hits: int, pageviews: int, downloads: int, events: int, comments: int, invalid: int,
     *     skipped: array<string, int>, examples: list<array{input: string, line: int, reason: string}>,
     *     rejected: int, batches: int, skipped_batches: int, skipped_lines: int,
     *     formats: list<array{input: string, format: string}>}
     */
    public function ingestLog(array $paths, array $options = []): array
    {
        $out = $this->ffi->new('char*');
        $json = $options === [] ? '{}' : json_encode($options, JSON_THROW_ON_ERROR);
        self::check($this->ffi, $this->ffi->hitmap_store_ingest_log(
            $this->handle(),
            json_encode(array_values($paths), JSON_THROW_ON_ERROR),
            $json,
            FFI::addr($out),
        ));
        return json_decode($this->take($out), true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Answers a Reporting API request with Matomo's JSON, decoded.
     *
     * With `$timeout` (seconds), a request still running after it stops
     * with a HitmapException of status HITMAP_ERR_DEADLINE (11), so one
     * request cannot hold a PHP worker, or the store's lock, for long.
     *
     * @return array<mixed>
     */
    public function api(string $query, ?float $timeout = null): array
    {
        $out = $this->ffi->new('char*');
        if ($timeout === null) {
            $status = $this->ffi->hitmap_store_api($this->handle(), $query, FFI::addr($out));
        } else {
            $ms = max(1, (int) ceil($timeout * 1000));
            $status = $this->ffi->hitmap_store_api_with_timeout($this->handle(), $query, $ms, FFI::addr($out));
        }
        self::check($this->ffi, $status);
        return json_decode($this->take($out), true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * Every row of one report, raw numbers (ratios as fractions): any
     * Reporting API method by its Matomo name, for one site and period.
     * `$params` adds parameters such as `segment`, `section`, `flat`,
     * `idDimension` or `filter_sort_column`; values are URL-encoded here.
     *
     * ```php
     * $rows = $hm->report('Events.getCategory', 1, 'month', '2026-03', ['segment' => 'deviceType==smartphone']);
     * $hours = $hm->report('VisitTime.getVisitInformationPerServerTime', 1, 'range', '2026-03-01,2026-03-31');
     * ```
     *
     * @param array<string, string|int> $params
     * @return array<mixed>
     */
    public function report(string $method, int $site, string $period, string $date, array $params = [], ?float $timeout = null): array
    {
        $query = http_build_query(
            ['method' => $method, 'idSite' => $site, 'period' => $period, 'date' => $date,
             'filter_limit' => -1, 'format_metrics' => 0] + $params,
            '',
            '&',
            PHP_QUERY_RFC3986,
        );
        return $this->api($query, $timeout);
    }

    /**
     * The answer as an HTTP endpoint sends it, never an exception for a
     * bad request: the body in the request's format (json, csv, tsv, xml),
     * errors as Matomo's {"result":"error","message":...}, with the
     * status and content type to send.
     *
     * ```php
     * ['status' => $status, 'contentType' => $type, 'body' => $body] = $hm->apiResponse($_SERVER['QUERY_STRING']);
     * http_response_code($status); header("Content-Type: $type"); echo $body;
     * ```
     *
     * @return array{status: int, contentType: string, body: string}
     */
    public function apiResponse(string $query, ?float $timeout = null): array
    {
        $status = $this->ffi->new('uint16_t');
        $type = $this->ffi->new('const char*');
        $out = $this->ffi->new('char*');
        $ms = $timeout === null ? 0 : max(1, (int) ceil($timeout * 1000));
        self::check($this->ffi, $this->ffi->hitmap_store_api_response(
            $this->handle(), $query, $ms, FFI::addr($status), FFI::addr($type), FFI::addr($out)));
        return ['status' => (int) $status->cdata, 'contentType' => FFI::string($type), 'body' => $this->take($out)];
    }

    /**
     * The answer's text (what an HTTP endpoint sends): Matomo's error JSON
     * for a bad request instead of an exception; apiResponse() also gives
     * the HTTP status.
     */
    public function apiJson(string $query, ?float $timeout = null): string
    {
        return $this->apiResponse($query, $timeout)['body'];
    }

    /**
     * One local day of a site as a self-contained, checksummed bundle
     * (its configuration, that day's dictionaries and archive), to load
     * into another store with importDay().
     */
    public function exportDay(int $site, string $day): string
    {
        $data = $this->ffi->new('uint8_t*');
        $len = $this->ffi->new('size_t');
        self::check($this->ffi, $this->ffi->hitmap_store_export_day($this->handle(), $site, $day, FFI::addr($data), FFI::addr($len)));
        $n = (int) $len->cdata;
        try {
            return $n === 0 ? '' : FFI::string($data, $n);
        } finally {
            $this->ffi->hitmap_bytes_free($data, $n);
        }
    }

    /**
     * Imports a bundle from exportDay() (any store); returns its day
     * (YYYY-MM-DD). A missing site is added from the bundle; a damaged or
     * foreign bundle raises a HitmapException and changes nothing.
     */
    public function importDay(string $bundle): string
    {
        $len = strlen($bundle);
        if ($len === 0) {
            throw new HitmapException(3, 'importDay: the bundle is empty');
        }
        $buf = $this->ffi->new("uint8_t[$len]", false);
        FFI::memcpy($buf, $bundle, $len);
        $out = $this->ffi->new('char*');
        try {
            self::check($this->ffi, $this->ffi->hitmap_store_import_day($this->handle(), $buf, $len, FFI::addr($out)));
        } finally {
            FFI::free($buf);
        }
        return $this->take($out);
    }

    /** Forgets a visitor (right to erasure); returns the hits removed. */
    public function forgetVisitor(int $site, string $visitor): int
    {
        $removed = $this->ffi->new('uint64_t');
        self::check($this->ffi, $this->ffi->hitmap_store_forget_visitor($this->handle(), $site, $visitor, FFI::addr($removed)));
        return (int) $removed->cdata;
    }

    /**
     * Seals live data into day files and returns the hits that were live.
     * Small ingests land in a write-ahead log first (cheap and durable) and
     * are sealed on their own as they grow; call this before a backup.
     */
    public function seal(): int
    {
        $live = $this->ffi->new('uint64_t');
        self::check($this->ffi, $this->ffi->hitmap_store_seal($this->handle(), FFI::addr($live)));
        return (int) $live->cdata;
    }

    /** Frees the handle now (the destructor does it otherwise). */
    public function close(): void
    {
        if ($this->handle !== null) {
            $this->ffi->hitmap_store_free($this->handle);
            $this->handle = null;
        }
    }

    public function __destruct()
    {
        $this->close();
    }

    private function handle(): CData
    {
        if ($this->handle === null) {
            throw new HitmapException(1, 'this store was closed');
        }
        return $this->handle;
    }

    /** Copies a string hitmap handed out, then frees it. */
    private function take(CData $out): string
    {
        try {
            return FFI::string($out);
        } finally {
            $this->ffi->hitmap_string_free($out);
        }
    }

    private static function check(FFI $ffi, int $status): void
    {
        if ($status !== 0) {
            $message = $ffi->hitmap_last_error_message();
            $message = is_string($message) ? $message : 'hitmap call failed';
            if ($status === 4 && preg_match('/^site (\d+) is not configured/', $message, $m) === 1) {
                $message = "site {$m[1]} is not configured: call \$store->addSite({$m[1]}, timezone: ...) first";
            }
            throw new HitmapException($status, $message);
        }
    }
}
