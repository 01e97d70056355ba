<?php

declare(strict_types=1);

namespace Hitmap\Tests;

use Hitmap\HitmapException;
use Hitmap\Library;
use Hitmap\Store;
use PHPUnit\Framework\TestCase;

/** Everything through the real shared library (HITMAP_LIB or target/). */
final class StoreTest extends TestCase
{
    private static function fixtureStore(): Store
    {
        $store = Store::inMemory();
        $store->addSite(1, timezone: 'Europe/London', hosts: ['intranet.example.org'],
            sections: ['News' => ['/news']], dimensions: ['department']);
        $result = $store->ingestNdjson((string) file_get_contents(__DIR__ . '/fixtures/hits.ndjson'));
        self::assertSame([], $result['rejected']);
        self::assertGreaterThan(100, $result['accepted']);
        return $store;
    }

    private static function tempDir(): string
    {
        $dir = sys_get_temp_dir() . '/hitmap-php-' . getmypid() . '-' . bin2hex(random_bytes(4));
        register_shutdown_function(static function () use ($dir): void {
            if (is_dir($dir)) {
                $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS),
                    \RecursiveIteratorIterator::CHILD_FIRST);
                foreach ($it as $f) {
                    $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
                }
                rmdir($dir);
            }
        });
        return $dir;
    }

    public function testAnswersEqualTheRustSurface(): void
    {
        $store = self::fixtureStore();
        $expected = json_decode((string) file_get_contents(__DIR__ . '/fixtures/expected.json'), true);
        self::assertCount(8, $expected);
        foreach ($expected as $request => $answer) {
            self::assertSame($answer, $store->api($request), $request);
            self::assertSame(json_encode($answer), json_encode(json_decode($store->apiJson($request))), $request);
        }
    }

    public function testQueryThreadsChangeNoAnswer(): void
    {
        $store = self::fixtureStore();
        $request = 'method=Actions.getPageUrls&flat=1&idSite=1&period=range&date=2024-01-01,2024-12-31&filter_limit=-1';
        $one = $store->apiJson($request);
        $store->setQueryThreads(0);
        self::assertSame($one, $store->apiJson($request));
        $this->expectException(\InvalidArgumentException::class);
        $store->setQueryThreads(-1);
    }

    public function testReportGivesEveryRowOfAnyMethod(): void
    {
        $store = self::fixtureStore();
        $hours = $store->report('VisitTime.getVisitInformationPerServerTime', 1, 'range', '2024-01-01,2024-12-31');
        self::assertCount(24, $hours);
        self::assertSame('00', $hours[0]['label']);
        $visits = $store->api('method=VisitsSummary.get&idSite=1&period=range&date=2024-01-01,2024-12-31&format_metrics=0');
        self::assertSame($visits['nb_visits'], array_sum(array_column($hours, 'nb_visits')));
        $pages = $store->report('Actions.getPageUrls', 1, 'range', '2024-01-01,2024-12-31', ['flat' => 1]);
        $all = $store->api('method=Actions.getPageUrls&flat=1&idSite=1&period=range&date=2024-01-01,2024-12-31&filter_limit=-1');
        self::assertSame(count($all), count($pages));
        $news = $store->report('Actions.getPageUrls', 1, 'range', '2024-01-01,2024-12-31',
            ['flat' => 1, 'segment' => 'pageUrl=@/news']);
        self::assertNotEmpty($news);
        self::assertLessThanOrEqual(count($pages), count($news));
    }

    public function testADayBundleCarriesADayToAnotherStore(): void
    {
        $source = self::fixtureStore();
        $bundle = $source->exportDay(1, '2024-06-03');
        self::assertGreaterThan(100, strlen($bundle));
        $copy = Store::inMemory();
        self::assertSame('2024-06-03', $copy->importDay($bundle));
        $q = 'method=Actions.getPageUrls&flat=1&idSite=1&period=day&date=2024-06-03&filter_limit=-1';
        self::assertSame($source->api($q), $copy->api($q));
        $damaged = $bundle;
        $damaged[intdiv(strlen($damaged), 2)] = chr(ord($damaged[intdiv(strlen($damaged), 2)]) ^ 0xFF);
        try {
            Store::inMemory()->importDay($damaged);
            self::fail('a damaged bundle was imported');
        } catch (HitmapException $e) {
            self::assertStringContainsString('bundle', strtolower($e->getMessage()));
        }
    }

    public function testAccessLogsGoInByMatomosRules(): void
    {
        $logs = dirname(__DIR__, 2) . '/intake/tests/data/matomo-logs/matomo-core/access-logs';
        $store = Store::inMemory();
        $store->addSite(1, hosts: ['piwik.net']);
        $r = $store->ingestLog([$logs . '/fake_logs.log'], ['idsite' => 1, 'enable-static' => true]);
        self::assertSame([17, 2, 1], [$r['pageviews'], $r['downloads'], $r['invalid']]);
        self::assertSame(['HTTP error (4xx, 5xx)' => 3, 'HTTP redirect (3xx)' => 2], $r['skipped']);
        self::assertSame(3, $r['examples'][0]['line']);
        $v = $store->api('method=VisitsSummary.get&idSite=1&period=range&date=2012-08-09,2012-08-11');
        self::assertSame([17, 19], [$v['nb_visits'], $v['nb_actions']]);
        try {
            $store->ingestLog([$logs . '/fake_logs.log'], ['log-format' => 'apache']);
            self::fail('an unknown format is an error');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_INVALID_ARGUMENT', $e->getStatusName());
            self::assertStringContainsString('unknown format "apache"', $e->getMessage());
        }
        try {
            $store->ingestLog(['/no/such.log']);
            self::fail('a missing file is an error');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_IO', $e->getStatusName());
        }
    }

    public function testASitesExclusionsSkipItsLogLines(): void
    {
        $logs = dirname(__DIR__, 2) . '/intake/tests/data/matomo-logs/matomo-core/access-logs';
        $store = Store::inMemory();
        $store->addSite(1, hosts: ['piwik.net'], excludedIps: ['175.41.192.0/24']);
        $r = $store->ingestLog([$logs . '/fake_logs.log'], ['idsite' => 1, 'enable-static' => true]);
        // The lines of that address are skipped, the others counted as before.
        $excluded = $r['skipped']['excluded IP'] ?? 0;
        self::assertGreaterThan(0, $excluded);
        self::assertSame(17 + 2, $r['pageviews'] + $r['downloads'] + $excluded);
        $this->expectException(HitmapException::class);
        $bad = Store::inMemory();
        $bad->addSite(1, excludedIps: ['175.41']);
        $bad->ingestLog([$logs . '/fake_logs.log'], ['idsite' => 1]);
    }

    public function testExcludedParametersLeavePageUrls(): void
    {
        $store = Store::inMemory();
        $store->addSite(1, hosts: ['x.org'], excludedParameters: ['ref']);
        $log = (string) tempnam(sys_get_temp_dir(), 'hitmap-log');
        file_put_contents($log, 'x.org 10.1.1.1 - - [01/Jun/2024:10:00:00 +0000] "GET /a?ref=mail&q=1&sid=9 HTTP/1.1" 200 512 "-" '
            . '"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"' . "\n");
        $store->ingestLog([$log], ['idsite' => 1, 'log_format' => 'common_vhost']);
        unlink($log);
        $rows = $store->api('method=Actions.getPageUrls&idSite=1&period=day&date=2024-06-01&flat=1');
        self::assertSame(['/a?q=1'], array_column($rows, 'label'));
    }

    public function testIngestReportsRejectedLines(): void
    {
        $store = Store::inMemory();
        $store->addSite(1);
        $result = $store->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n"
            . "{\"site\":1,\"ts\":1717200020}\n\n{\"site\":\"one\"}\n");
        self::assertSame(1, $result['accepted']);
        self::assertSame([2, 4], array_column($result['rejected'], 'line'));
        self::assertStringContainsString('visitor', $result['rejected'][0]['reason']);
        self::assertSame(['accepted' => 0, 'rejected' => [], 'batches' => 0, 'skipped_batches' => 0, 'skipped_lines' => 0, 'held_back' => 0],
            $store->ingestNdjson(''));
    }

    public function testOrdersOfAnEcommerceSiteAreReported(): void
    {
        $store = Store::inMemory();
        $store->addSite(1, ecommerce: true);
        $result = $store->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/shop\"}\n"
            . "{\"site\":1,\"visitor\":\"a\",\"ts\":1717200030,\"type\":\"order\",\"order\":{\"id\":\"A-1\"},\"revenue\":12.5,"
            . "\"items\":[{\"sku\":\"MUG\",\"price\":6.25,\"quantity\":2}]}\n");
        self::assertSame(2, $result['accepted']);
        $orders = $store->api('method=Goals.get&idSite=1&period=day&date=2024-06-01&idGoal=ecommerceOrder');
        self::assertSame([1, 12.5, 2], [$orders['nb_conversions'], $orders['revenue'], $orders['items']]);
        $products = $store->api('method=Goals.getItemsSku&idSite=1&period=day&date=2024-06-01');
        self::assertSame('MUG', $products[0]['label']);
        self::assertSame(1, $store->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01')['nb_actions']);
    }

    public function testASiteHasItsNameAndMainUrl(): void
    {
        $store = Store::inMemory();
        $store->addSite(1, hosts: ['x.org'], name: 'Intranet', mainUrl: 'http://x.org');
        $site = $store->api('method=SitesManager.getSiteFromId&idSite=1');
        self::assertSame(['Intranet', 'http://x.org'], [$site['name'], $site['main_url']]);
    }

    public function testStoreOnDiskLocksAndReopens(): void
    {
        $dir = self::tempDir();
        $writer = Store::open($dir);
        $writer->addSite(1, timezone: 'Europe/London');
        $writer->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n");
        try {
            Store::open($dir);
            self::fail('a second writer must be refused');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_LOCKED', $e->getStatusName());
            self::assertStringContainsString('pid ' . getmypid(), $e->getMessage());
        }
        $reader = Store::openReadOnly($dir);
        self::assertSame(1, $reader->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01')['nb_visits']);
        self::assertSame(1, $writer->forgetVisitor(1, 'a'));
        $writer->close();
        $again = Store::openReadOnly($dir);
        // The day has no visit left: Matomo's row of zeros.
        self::assertSame(0, $again->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01')['nb_visits']);
        $this->expectExceptionMessage('read-only');
        $again->addSite(2);
    }

    public function testAReaderRefreshesToNewCommitsAndHonoursItsOptions(): void
    {
        $dir = self::tempDir();
        $writer = Store::open($dir);
        $writer->addSite(1);
        $writer->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n");
        $q = 'method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01';
        $reader = Store::openReadOnly($dir, null, ['cache_mb' => 4]);
        self::assertSame(1, $reader->api($q)['nb_visits']);
        self::assertFalse($reader->refresh());
        $writer->ingestNdjson("{\"site\":1,\"visitor\":\"b\",\"ts\":1717200100,\"url\":\"https://x.org/\"}\n");
        self::assertSame(1, $reader->api($q)['nb_visits'], 'a snapshot until refreshed');
        self::assertTrue($reader->refresh());
        self::assertSame(2, $reader->api($q)['nb_visits']);
        // With max_age_ms 0 every request picks up new commits itself.
        $auto = Store::openReadOnly($dir, null, ['max_age_ms' => 0]);
        $writer->ingestNdjson("{\"site\":1,\"visitor\":\"c\",\"ts\":1717200200,\"url\":\"https://x.org/\"}\n");
        self::assertSame(3, $auto->api($q)['nb_visits']);
        $this->expectExceptionMessage('cache_mb, max_age_ms, storage_options');
        Store::openReadOnly($dir, null, ['cache' => 4]);
    }

    public function testSmallIngestsAreLiveInTheLogUntilSealed(): void
    {
        $dir = self::tempDir();
        $writer = Store::open($dir);
        $writer->addSite(1);
        $writer->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n");
        // Durable in the write-ahead log: another process reads it now.
        self::assertFileExists($dir . '/wal');
        self::assertDirectoryDoesNotExist($dir . '/site-1/days');
        $reader = Store::openReadOnly($dir);
        self::assertSame(1, $reader->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01')['nb_visits']);
        self::assertSame(1, $writer->seal());
        self::assertSame(0, $writer->seal());
        self::assertDirectoryExists($dir . '/site-1/days');
        $writer->close();
        $again = Store::openReadOnly($dir);
        self::assertSame(1, $again->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01')['nb_visits']);
    }

    /** @return array<string, array{string, string, string}> */
    public static function badRequests(): array
    {
        return [
            'bad segment' => ['method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=nope%3D%3Dx', 'HITMAP_ERR_SEGMENT', "unknown segment field 'nope'"],
            'unknown site' => ['method=VisitsSummary.get&idSite=9&period=day&date=today', 'HITMAP_ERR_UNKNOWN_SITE', 'call $store->addSite(9, timezone: ...) first'],
            'unknown method' => ['method=Nope.get&idSite=1&period=day&date=today', 'HITMAP_ERR_REQUEST', 'unknown method'],
            'bad period' => ['method=VisitsSummary.get&idSite=1&period=fortnight&date=today', 'HITMAP_ERR_REQUEST', 'unknown period'],
            'bad date' => ['method=VisitsSummary.get&idSite=1&period=day&date=2024-02-30', 'HITMAP_ERR_REQUEST', 'YYYY-MM-DD'],
            'date past year 9999' => ['method=VisitsSummary.get&idSite=1&period=week&date=%2B262142-12-31', 'HITMAP_ERR_REQUEST', '0001-01-01 to 9999-12-31'],
            'date before year 1' => ['method=VisitsSummary.get&idSite=1&period=month&date=-262143-01-01,1970-01-01', 'HITMAP_ERR_REQUEST', '0001-01-01 to 9999-12-31'],
            'too many periods' => ['method=VisitsSummary.get&idSite=1&period=day&date=last10000', 'HITMAP_ERR_REQUEST', 'from 1 to 3660'],
            'unknown section' => ['method=VisitsSummary.get&idSite=1&period=day&date=today&section=Nope', 'HITMAP_ERR_REQUEST', "unknown section 'Nope'"],
            'not utf-8' => ["method=\xff", 'HITMAP_ERR_INVALID_UTF8', 'UTF-8'],
        ];
    }

    /** @dataProvider badRequests */
    public function testErrorsRaiseHitmapExceptionAndThePhpProcessSurvives(string $query, string $status, string $message): void
    {
        $store = self::fixtureStore();
        try {
            $store->api($query);
            self::fail("$query must fail");
        } catch (HitmapException $e) {
            self::assertSame($status, $e->getStatusName());
            self::assertStringContainsString($message, $e->getMessage());
        }
        // Still alive and answering.
        self::assertArrayHasKey('2024-06-03', $store->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01,2024-06-03'));
    }

    public function testATimeoutStopsALongRequestAndTheWorkerGoesOn(): void
    {
        $store = self::fixtureStore();
        $query = 'method=Hitmap.getSections&idSite=1&period=day&date=last3660&section=/news';
        try {
            $store->api($query, timeout: 0.000001);
            self::fail('a microsecond is not enough for 3660 periods');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_DEADLINE', $e->getStatusName());
            self::assertStringContainsString('ran out of time', $e->getMessage());
        }
        self::assertSame($store->api($query), $store->api($query, timeout: 600.0));
        // No panic line reaches stderr for any of the dates that used to panic.
        self::assertCount(3660, $store->api('method=VisitsSummary.get&idSite=1&period=day&date=last3660'));
    }

    public function testGoalsAddedAfterTheDataAnswerForIt(): void
    {
        $store = self::fixtureStore();
        $request = 'method=Goals.get&idSite=1&period=year&date=2024-01-01';
        $store->setGoal(1, 1, 'News', match: 'url', pattern: '/NEWS', revenue: 2.5);
        $goals = $store->api('method=Goals.getGoals&idSite=1');
        self::assertSame('News', $goals['1']['name']);
        self::assertSame('contains', $goals['1']['pattern_type']);
        $all = $store->api($request);
        self::assertGreaterThan(0, $all['nb_visits_converted']);
        self::assertEquals(2.5 * $all['nb_conversions'], $all['revenue']);
        // Case-sensitive, the upper-case pattern matches nothing: the past changes.
        $store->setGoal(1, 1, 'News', match: 'url', pattern: '/NEWS', caseSensitive: true);
        self::assertSame(0, $store->api($request)['nb_conversions']);
        try {
            $store->setGoal(1, 2, 'Bad', patternType: 'regex', pattern: '(');
            self::fail('a bad regex');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_INVALID_ARGUMENT', $e->getStatusName());
            self::assertStringContainsString('not a regular expression', $e->getMessage());
        }
        self::assertTrue($store->removeGoal(1, 1));
        self::assertFalse($store->removeGoal(1, 1));
        self::assertSame([], $store->api('method=Goals.getGoals&idSite=1'));
    }

    public function testBadSitesAndClosedStores(): void
    {
        $store = Store::inMemory();
        try {
            $store->addSite(1, timezone: 'Mars/Olympus');
            self::fail('unknown zone');
        } catch (HitmapException $e) {
            self::assertSame('HITMAP_ERR_INVALID_ARGUMENT', $e->getStatusName());
            self::assertStringContainsString('Mars/Olympus', $e->getMessage());
        }
        $store->close();
        $store->close();
        $this->expectException(HitmapException::class);
        $store->api('method=VisitsSummary.get&idSite=1&period=day&date=today');
    }

    public function testLibraryDiscoveryAndAbi(): void
    {
        self::assertMatchesRegularExpression('/^\d+\.\d+\.\d+/', Library::version());
        $this->expectExceptionMessage('libhitmap_ffi.so not found');
        Store::inMemory('/nonexistent/libhitmap_ffi.so');
    }

    /** php/README.md's quick start, run as written from the repository root, twice. */
    public function testTheReadmeQuickStartRunsAsWrittenAndARerunChangesNothing(): void
    {
        $readme = (string) file_get_contents(__DIR__ . '/../README.md');
        self::assertSame(1, preg_match('/```php\n(.*?)```/s', $readme, $m));
        $code = $m[1];
        $dir = sys_get_temp_dir() . '/hitmap-quickstart';
        if (is_dir($dir)) {
            foreach (new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS),
                \RecursiveIteratorIterator::CHILD_FIRST) as $f) {
                $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
            }
        }
        $run = static function () use ($code): array {
            $cwd = getcwd();
            chdir(__DIR__ . '/../..');
            try {
                eval($code);
            } finally {
                chdir((string) $cwd);
            }
            /** @phpstan-ignore-next-line variables of the snippet */
            return [$result, $summary, $status, $body];
        };
        [$result, $summary, $status, $body] = $run();
        self::assertSame(1, $result['accepted']);
        self::assertSame(1, $summary['nb_visits']);
        self::assertSame(400, $status);
        self::assertStringStartsWith('{"result":"error","message":"unknown method', $body);
        [$again, $summaryAgain] = $run();
        self::assertSame([0, 1], [$again['accepted'], $again['skipped_batches']]);
        self::assertSame($summary, $summaryAgain);
    }

    public function testApiResponseGivesStatusTypeAndBodyInEveryFormat(): void
    {
        $store = self::fixtureStore();
        $ok = $store->apiResponse('method=VisitsSummary.get&idSite=1&period=week&date=2024-06-05&format=xml');
        self::assertSame(200, $ok['status']);
        self::assertSame('text/xml; charset=utf-8', $ok['contentType']);
        self::assertStringContainsString('<nb_visits>', $ok['body']);
        $bad = $store->apiResponse('method=VisitsSummary.get&idSite=9&period=day&date=today');
        self::assertSame(404, $bad['status']);
        self::assertSame('error', json_decode($bad['body'], true)['result']);
        self::assertSame($bad['body'], $store->apiJson('method=VisitsSummary.get&idSite=9&period=day&date=today'));
        $csv = $store->apiResponse('method=Nope&idSite=1&period=day&date=today&format=csv');
        self::assertSame([400, 'text/csv; charset=utf-8'], [$csv['status'], $csv['contentType']]);
        self::assertStringStartsWith('Error: unknown method', $csv['body']);
    }

    public function testAThousandOpenCloseCyclesDoNotLeak(): void
    {
        $rss = static function (): int {
            $statm = explode(' ', (string) file_get_contents('/proc/self/statm'));
            return (int) $statm[1] * 4096;
        };
        $cycle = static function (): void {
            $s = Store::inMemory();
            $s->addSite(1);
            $s->ingestNdjson("{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n");
            $s->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01');
            try {
                $s->api('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=x%3D%3Dy');
            } catch (HitmapException) {
            }
        };
        for ($i = 0; $i < 100; $i++) {
            $cycle(); // warm up allocator pools
        }
        $before = $rss();
        for ($i = 0; $i < 1000; $i++) {
            $cycle();
        }
        $grown = $rss() - $before;
        // Each cycle hands out two strings of ~300 bytes and a handle with
        // its engine (~5 KB): losing any of them grows RSS by megabytes.
        self::assertLessThan(256 << 10, $grown, "RSS grew by $grown bytes over 1000 cycles");

        // Many calls on one handle: a result string lost per call (~300
        // bytes) would add megabytes here.
        $store = self::fixtureStore();
        $calls = static function () use ($store): void {
            for ($i = 0; $i < 20000; $i++) {
                $store->apiJson('method=VisitsSummary.get&idSite=1&period=day&date=2024-06-03');
            }
        };
        $calls();
        $before = $rss();
        $calls();
        $grown = $rss() - $before;
        self::assertLessThan(1 << 20, $grown, "RSS grew by $grown bytes over 20000 api() calls");
    }
}
