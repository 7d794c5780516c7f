/* A temporary folder for a C API test and paths in it (C99), shared by the tests that write
 * files: fill g_dir (mkdtemp), then at("name") is "<g_dir>/name" in one of four rotating
 * buffers (so up to four paths can be live in one call). */
#ifndef RPG_TEST_TEMP_PATH_H
#define RPG_TEST_TEMP_PATH_H

#include <stdio.h>

static char g_dir[64];

static const char* at(const char* name) {
  static char paths[4][256];
  static int next = 0;
  char* p = paths[next++ % 4];
  snprintf(p, 256, "%s/%s", g_dir, name);
  return p;
}

#endif
