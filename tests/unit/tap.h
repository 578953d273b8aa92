/* tap.h: run a Check suite with TAP on stdout, for automake's TAP driver. */
#ifndef YTC_TAP_H
#define YTC_TAP_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline int tap_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* The main of a unit test: one suite of one test case named `tcase`, whose
 * tests the block after the macro adds to `t` (a function body, so #ifdef
 * works inside it):
 *     TAP_MAIN("util", "util")
 *     {
 *         tcase_add_test(t, numbers);
 *     }
 */
#define TAP_MAIN(suite, tcase)                                              \
    static void tap_add_tests(TCase *t);                                    \
    int main(void)                                                          \
    {                                                                       \
        Suite *s = suite_create(suite);                                     \
        TCase *t = tcase_create(tcase);                                     \
        tap_add_tests(t);                                                   \
        suite_add_tcase(s, t);                                              \
        return tap_run(s);                                                  \
    }                                                                       \
    static void tap_add_tests(TCase *t)

/* Path of a test data file, from $YTC_SRCDIR. */
static inline const char *tap_data(const char *rel, char *buf, size_t len)
{
    const char *src = getenv("YTC_SRCDIR");
    snprintf(buf, len, "%s/tests/data/%s", src ? src : ".", rel);
    return buf;
}

#endif
