<?php

declare(strict_types=1);

namespace Hitmap;

/**
 * A hitmap call failed: the status code of the C ABI and hitmap's message,
 * which says what to fix.
 */
final class HitmapException extends \RuntimeException
{
    /** Status names of the C ABI, by code. */
    private const NAMES = [
        1 => 'HITMAP_ERR_NULL_ARGUMENT',
        2 => 'HITMAP_ERR_INVALID_UTF8',
        3 => 'HITMAP_ERR_INVALID_ARGUMENT',
        4 => 'HITMAP_ERR_UNKNOWN_SITE',
        5 => 'HITMAP_ERR_SEGMENT',
        6 => 'HITMAP_ERR_REQUEST',
        7 => 'HITMAP_ERR_STORE',
        8 => 'HITMAP_ERR_LOCKED',
        9 => 'HITMAP_ERR_READ_ONLY',
        10 => 'HITMAP_ERR_IO',
        11 => 'HITMAP_ERR_DEADLINE',
        99 => 'HITMAP_ERR_PANIC',
    ];

    public function __construct(private readonly int $status, string $message)
    {
        parent::__construct($message, $status);
    }

    /** The C ABI status code (see ffi/include/hitmap.h). */
    public function getStatus(): int
    {
        return $this->status;
    }

    /** The status as its C name, e.g. `HITMAP_ERR_SEGMENT`. */
    public function getStatusName(): string
    {
        return self::NAMES[$this->status] ?? 'HITMAP_ERR_' . $this->status;
    }
}
