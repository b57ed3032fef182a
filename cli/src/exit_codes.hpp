// Exit codes of the taskflow command line tool, and how a PostgreSQL error maps onto them.
// Documented in docs/cli.md ("Exit codes"); keep both in step.
#pragma once

#include <string>

namespace taskflow::cli {

enum ExitCode : int {
  kOk = 0,
  kUsage = 1,  // bad flag or argument, a value the server refused as invalid (SQLSTATE class 22),
               // a bulk action by filter without --yes
  kNotFound = 2,    // no such job, queue, rule (P0002, 42704, or a read that answered NULL)
  kRefused = 3,     // the state machine or a conflict refused it (55000, 42710, 23xxx, 40xxx),
                    // or a bulk action skipped some jobs
  kConnection = 4,  // cannot connect or log in, or the database has no taskflow extension
  kPermission = 5,  // the role may not do this (42501)
  kError = 6,       // any other error (internal, a lost connection mid-call, ...)
};

// The exit code for an error with this SQLSTATE.
ExitCode ExitCodeForSqlstate(const std::string& sqlstate);

}  // namespace taskflow::cli
