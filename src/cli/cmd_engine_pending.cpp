// Stand-ins for `inspect` and `logits` on the tokenizer branch only: its base commit declares them
// in commands.h and main.cpp but defines them in the engine's files on main, so without this the
// binary does not link here. DELETE THIS FILE WHEN MERGING WITH MAIN. The #error makes a merged
// tree that still holds it fail to compile, instead of linking these in place of the engine.
#if __has_include("model/config.h")
#error \
    "src/cli/cmd_engine_pending.cpp: delete this file; main's cmd_inspect.cpp and cmd_logits.cpp define these"
#endif

#include "cli/commands.h"
#include "io/error.h"

namespace lsc::cli {

int cmd_inspect(int, char**) {
  throw UsageError("'inspect' is not in this build (branch tokenizer, without the engine)");
}

int cmd_logits(int, char**) {
  throw UsageError("'logits' is not in this build (branch tokenizer, without the engine)");
}

}  // namespace lsc::cli
