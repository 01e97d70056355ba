<?php

declare(strict_types=1);

// Loads the Hitmap\ classes without Composer: `require 'php/bootstrap.php';`
// (with Composer, `composer dump-autoload` in php/ and vendor/autoload.php
// do the same through composer.json's PSR-4 map).
spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Hitmap\\')) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 7)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
