// Turns the errors a command throws into a message on stderr and the documented exit code
// (README.md, "Exit codes"). main() runs every command through it; an MPI rank runs its share
// through it too, so that a failing rank still joins the others' exit-code exchange.
#pragma once

#include <functional>
#include <string>

namespace lsc::cli {

// prefix goes before the message ("rank 1 of 4: "); empty for a single process.
int run_guarded(const char* command, const std::function<int()>& body, const std::string& prefix = "");

}  // namespace lsc::cli
