// One function per subcommand; each parses its own flags (argv excludes the subcommand name) and
// returns the exit code. Errors are thrown and turned into messages and exit codes by main().
#pragma once

namespace lsc::cli {

int cmd_inspect(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_stats(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_merge(int argc, char** argv);

}  // namespace lsc::cli
