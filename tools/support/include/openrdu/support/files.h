// Files and directories a tool writes to: checked before the slow work starts.
#pragma once
#include <string>

namespace openrdu::support {

// Creates `dir` when missing and checks that a file can be written there; throws
// std::runtime_error "OPTION DIR: not a directory" or "OPTION DIR: cannot write there:
// REASON" otherwise (`option` names the flag, e.g. "--output-dir").
void ensure_writable_dir(const std::string& dir, const std::string& option);

}  // namespace openrdu::support
