<?php

declare(strict_types=1);

// Debian's phpunit has no autoloader for this package: the package's own
// bootstrap maps Hitmap\ to src/.
require __DIR__ . '/../bootstrap.php';
