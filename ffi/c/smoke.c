/* C smoke test of the hitmap ABI: every call, every error path, everything
 * freed. CI compiles it with -Wall -Wextra -Werror and runs it under
 * valgrind --leak-check=full --error-exitcode=1. Usage: smoke <store-dir> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitmap.h"

static int failures = 0;

#define CHECK(cond, what)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAILED: %s (line %d): %s\n", what, __LINE__,   \
                    hitmap_last_error_message() ? hitmap_last_error_message() : "-"); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static const char HITS[] =
    "{\"site\":1,\"visitor\":\"a\",\"ts\":1717200000,\"url\":\"https://x.org/news/a\",\"device\":\"smartphone\"}\n"
    "{\"site\":1,\"visitor\":\"a\",\"ts\":1717200030,\"url\":\"https://x.org/about\"}\n"
    "{\"site\":1,\"visitor\":\"b\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n"
    "not json\n";

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <store-dir>\n", argv[0]);
        return 2;
    }
    CHECK(hitmap_abi_version() == 1, "abi version");
    CHECK(strlen(hitmap_version()) > 0, "version");

    hitmap_store *store = NULL;
    CHECK(hitmap_store_open(argv[1], &store) == HITMAP_OK, "open");
    CHECK(hitmap_store_add_site(store, "{\"id\":1,\"timezone\":\"Europe/London\",\"sections\":{\"News\":[\"/news\"]}}") == HITMAP_OK, "add site");

    char *result = NULL;
    CHECK(hitmap_store_ingest_ndjson(store, (const uint8_t *)HITS, sizeof HITS - 1, &result) == HITMAP_OK, "ingest");
    CHECK(result && strstr(result, "\"accepted\":3") && strstr(result, "\"line\":4"), "ingest outcome");
    hitmap_string_free(result);

    char *json = NULL;
    CHECK(hitmap_store_api(store, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01", &json) == HITMAP_OK, "api");
    CHECK(json && strstr(json, "\"nb_visits\":2"), "api answer");
    hitmap_string_free(json);
    json = NULL;
    CHECK(hitmap_store_api(store, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&section=News", &json) == HITMAP_OK, "api section");
    CHECK(json && strstr(json, "\"nb_visits\":1"), "section answer");
    hitmap_string_free(json);

    /* Error paths: a status and a message, nothing to free. */
    json = NULL;
    CHECK(hitmap_store_api(store, "method=VisitsSummary.get&idSite=1&period=day&date=today&segment=nope%3D%3Dx", &json) == HITMAP_ERR_SEGMENT, "bad segment");
    CHECK(json == NULL && strstr(hitmap_last_error_message(), "unknown segment field"), "segment message");
    CHECK(hitmap_store_api(store, "method=Nope&idSite=1&period=day&date=today", &json) == HITMAP_ERR_REQUEST, "bad method");
    CHECK(hitmap_store_api(store, "method=VisitsSummary.get&idSite=7&period=day&date=today", &json) == HITMAP_ERR_UNKNOWN_SITE, "unknown site");
    CHECK(hitmap_store_api(NULL, "x", &json) == HITMAP_ERR_NULL_ARGUMENT, "null store");
    CHECK(hitmap_store_api(store, NULL, &json) == HITMAP_ERR_NULL_ARGUMENT, "null query");
    CHECK(hitmap_store_api(store, "\xff\xfe", &json) == HITMAP_ERR_INVALID_UTF8, "bad utf8");
    CHECK(hitmap_store_add_site(store, "{\"id\":1,\"timezone\":\"Mars/Base\"}") == HITMAP_ERR_INVALID_ARGUMENT, "bad zone");
    CHECK(hitmap_store_add_site(store, "{") == HITMAP_ERR_INVALID_ARGUMENT, "bad json");
    CHECK(hitmap_store_ingest_ndjson(store, NULL, 3, &result) == HITMAP_ERR_NULL_ARGUMENT, "null data");

    hitmap_store *second = NULL;
    CHECK(hitmap_store_open(argv[1], &second) == HITMAP_ERR_LOCKED, "second writer");
    CHECK(second == NULL, "no handle on failure");

    uint64_t removed = 0;
    CHECK(hitmap_store_forget_visitor(store, 1, "a", &removed) == HITMAP_OK && removed == 2, "forget");
    uint64_t live = 99;
    CHECK(hitmap_store_seal(store, &live) == HITMAP_OK && live == 0, "seal");
    hitmap_store_free(store);

    /* Reopen read-only: the erasure is on disk. */
    hitmap_store *reader = NULL;
    CHECK(hitmap_store_open_read_only(argv[1], &reader) == HITMAP_OK, "read only");
    json = NULL;
    CHECK(hitmap_store_api(reader, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01", &json) == HITMAP_OK, "reader api");
    CHECK(json && strstr(json, "\"nb_visits\":1"), "reader answer");
    hitmap_string_free(json);
    CHECK(hitmap_store_add_site(reader, "{\"id\":2}") == HITMAP_ERR_READ_ONLY, "reader cannot write");

    /* A day bundle from the reader into a fresh in-memory store. */
    uint8_t *bundle = NULL;
    size_t bundle_len = 0;
    CHECK(hitmap_store_export_day(reader, 1, "2024-06-01", &bundle, &bundle_len) == HITMAP_OK && bundle_len > 0, "export day");
    CHECK(hitmap_store_export_day(reader, 1, "not a day", &bundle, &bundle_len) != HITMAP_OK, "export bad day");

    hitmap_store *memory = NULL;
    CHECK(hitmap_store_new_in_memory(&memory) == HITMAP_OK, "in memory");
    char *day = NULL;
    CHECK(hitmap_store_import_day(memory, bundle, bundle_len, &day) == HITMAP_OK && day && strcmp(day, "2024-06-01") == 0, "import day");
    hitmap_string_free(day);
    json = NULL;
    CHECK(hitmap_store_api(memory, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01", &json) == HITMAP_OK, "bundle api");
    CHECK(json && strstr(json, "\"nb_visits\":1"), "bundle answer");
    hitmap_string_free(json);
    CHECK(hitmap_store_import_day(memory, bundle, bundle_len, NULL) != HITMAP_OK, "same day twice");
    CHECK(hitmap_store_import_day(memory, bundle, 7, NULL) != HITMAP_OK, "truncated bundle");
    hitmap_bytes_free(bundle, bundle_len);
    hitmap_bytes_free(NULL, 0);
    hitmap_store_free(memory);

    /* A lazy reader with options, refreshed after a writer commits. */
    hitmap_store *lazy = NULL;
    CHECK(hitmap_store_open_reader(argv[1], "{\"cache_mb\":4}", &lazy) == HITMAP_OK, "open reader");
    CHECK(hitmap_store_open_reader(argv[1], "{\"cache\":4}", &second) == HITMAP_ERR_REQUEST && second == NULL, "bad reader options");
    uint32_t changed = 7;
    CHECK(hitmap_store_refresh(lazy, &changed) == HITMAP_OK && changed == 0, "nothing to refresh");
    hitmap_store *writer = NULL;
    CHECK(hitmap_store_open(argv[1], &writer) == HITMAP_OK, "writer again");
    static const char MORE[] = "{\"site\":1,\"visitor\":\"z\",\"ts\":1717200000,\"url\":\"https://x.org/\"}\n";
    result = NULL;
    CHECK(hitmap_store_ingest_ndjson(writer, (const uint8_t *)MORE, sizeof MORE - 1, &result) == HITMAP_OK, "ingest again");
    hitmap_string_free(result);
    hitmap_store_free(writer);
    CHECK(hitmap_store_refresh(lazy, &changed) == HITMAP_OK && changed == 1, "refresh");
    json = NULL;
    CHECK(hitmap_store_api(lazy, "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01", &json) == HITMAP_OK, "lazy api");
    CHECK(json && strstr(json, "\"nb_visits\":2"), "lazy answer after refresh");
    hitmap_string_free(json);
    hitmap_store_free(lazy);
    hitmap_store_free(reader);
    hitmap_store_free(NULL);
    hitmap_string_free(NULL);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("C smoke test: 1 passed, 0 failed\n");
    return 0;
}
