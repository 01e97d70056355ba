<?php

/**
 * hitmap in place of Matomo's SQL archiving, from PHP (Drupal, Matomo or
 * any PHP host): feed hits from the tracker into a store, answer the
 * Reporting API calls a dashboard makes.
 *
 *   HITMAP_LIB=target/release/libhitmap_ffi.so php php/examples/dashboard.php
 */

declare(strict_types=1);

require __DIR__ . '/../bootstrap.php'; // or Composer's vendor/autoload.php

use Hitmap\HitmapException;
use Hitmap\Store;

$dir = sys_get_temp_dir() . '/hitmap-dashboard-' . getmypid();
$hm = Store::open($dir);
$hm->addSite(1, timezone: 'Europe/London', hosts: ['intranet.example.org'],
    sections: ['News' => ['/news']], dimensions: ['department']);

// 1. The tracker endpoint appends hits; a cron or queue worker ingests them in batches.
$result = $hm->ingestNdjson((string) file_get_contents(__DIR__ . '/../tests/fixtures/hits.ndjson'));
printf("ingested %d hits, %d rejected\n", $result['accepted'], count($result['rejected']));

// 2. The dashboard's Reporting API calls, answered from the store.
$calls = [
    'Visits this week' => 'method=VisitsSummary.get&idSite=1&period=week&date=2024-06-05',
    'Visits per day' => 'method=VisitsSummary.get&idSite=1&period=day&date=2024-06-03,2024-06-07',
    'Top pages (exact unique visitors per row)' => 'method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2024-06-01&filter_limit=5',
    'Devices of HR' => 'method=DevicesDetection.getType&idSite=1&period=month&date=2024-06-01&segment=department%3D%3DHR',
    'The News section' => 'method=VisitsSummary.get&idSite=1&period=month&date=2024-06-01&section=News',
];
foreach ($calls as $title => $query) {
    echo "\n$title\n", json_encode($hm->api($query), JSON_PRETTY_PRINT), "\n";
}

// 3. A bad request is an exception with Matomo's error shape at hand, never a crash.
try {
    $hm->api('method=VisitsSummary.get&idSite=1&period=day&date=today&segment=nope%3D%3Dx');
} catch (HitmapException $e) {
    echo "\n", json_encode(['result' => 'error', 'message' => $e->getMessage()]), "\n";
}

$hm->close();
// The example's own temporary store goes (days, dictionaries, the
// write-ahead log of small ingests, the manifest).
foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir, FilesystemIterator::SKIP_DOTS),
    RecursiveIteratorIterator::CHILD_FIRST) as $f) {
    $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
}
@rmdir($dir);
