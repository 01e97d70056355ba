<?php

/**
 * What a PHP host pays: one api() call, and ingesting an NDJSON file.
 *   HITMAP_LIB=target/release/libhitmap_ffi.so php php/examples/bench.php hits.ndjson
 * (make one: cargo run --release --example sample_ndjson -- 30 600 > hits.ndjson)
 */

declare(strict_types=1);

require __DIR__ . '/../tests/bootstrap.php';

use Hitmap\Store;

$file = $argv[1] ?? __DIR__ . '/../tests/fixtures/hits.ndjson';
$bytes = (string) file_get_contents($file);
$store = Store::inMemory();
$store->addSite(1, timezone: 'Europe/London', sections: ['News' => ['/news']], dimensions: ['department']);

$t = hrtime(true);
$result = $store->ingestNdjson($bytes);
$ingest = (hrtime(true) - $t) / 1e9;
printf("ingest %d hits from PHP: %.3f s (%.0f hits/s)\n", $result['accepted'], $ingest, $result['accepted'] / $ingest);

foreach ([
    'VisitsSummary.get, one day' => 'method=VisitsSummary.get&idSite=1&period=day&date=2024-06-03',
    'VisitsSummary.get, 30 days with a segment' => 'method=VisitsSummary.get&idSite=1&period=range&date=2024-06-01,2024-06-30&segment=department%3D%3DHR',
] as $title => $q) {
    $n = 2000;
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $store->api($q);
    }
    printf("%s: %.1f µs per api() call from PHP\n", $title, (hrtime(true) - $t) / 1e3 / $n);
}
