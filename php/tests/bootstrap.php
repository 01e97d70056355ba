<?php

declare(strict_types=1);

// PSR-4 for Hitmap\ without Composer (Debian's phpunit has no autoloader
// for this package): src/Store.php holds Hitmap\Store.
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Hitmap\\')) {
        $file = __DIR__ . '/../src/' . str_replace('\\', '/', substr($class, 7)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
