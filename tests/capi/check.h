/* Tiny check macros shared by the C API tests (C99): count checks, print failures with the
 * library's message, and end with one line "N checks passed, N failed" and the exit status. */
#ifndef RPG_TEST_CHECK_H
#define RPG_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "rpgnet.h"

static int g_checks = 0, g_failures = 0;

#define CHECK(cond)                                                               \
  do {                                                                            \
    ++g_checks;                                                                   \
    if (!(cond)) {                                                                \
      ++g_failures;                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
    }                                                                             \
  } while (0)

/* The call must return OK; on failure the library's message is printed. */
#define OK(call)                                                                             \
  do {                                                                                       \
    rpg_status st_ = (call);                                                                 \
    ++g_checks;                                                                              \
    if (st_ != RPG_STATUS_OK) {                                                              \
      ++g_failures;                                                                          \
      fprintf(stderr, "%s:%d: %s returned %d (%s): %s\n", __FILE__, __LINE__, #call, (int)st_, \
              rpg_status_string(st_), rpg_last_error());                                     \
    }                                                                                        \
  } while (0)

/* The call must fail with the given status and leave a message naming the function. */
#define FAILS(expected, call)                                                                     \
  do {                                                                                            \
    rpg_status st_ = (call);                                                                      \
    const char* msg_ = rpg_last_error();                                                          \
    ++g_checks;                                                                                   \
    if (st_ != (expected) || msg_ == NULL || strstr(msg_, "rpg_") != msg_) {                      \
      ++g_failures;                                                                               \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; message: %s\n", __FILE__, __LINE__, \
              #call, (int)st_, rpg_status_string(st_), (int)(expected), msg_ ? msg_ : "(null)");     \
    }                                                                                             \
  } while (0)

static int check_summary(const char* name) {
  printf("%s: %d checks passed, %d failed\n", name, g_checks - g_failures, g_failures);
  return g_failures == 0 ? 0 : 1;
}

#endif
