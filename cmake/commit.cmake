# Writes OUT = a header defining LSC_GIT_COMMIT as the source tree's commit at build time
# ("-dirty" when tracked files differ from it), rewriting it only when that changes: every build
# of the tool (its results record it) and of a bench (it names the code it measures) carries the
# code built, not the commit of the last cmake configure. Target lsc_commit (src/CMakeLists.txt).
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit "unknown")
elseif(changes)
  set(commit "${commit}-dirty")
endif()
set(text "#define LSC_GIT_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
