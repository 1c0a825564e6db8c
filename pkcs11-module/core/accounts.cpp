#include "core/accounts.h"

#include <grp.h>
#include <pwd.h>

#include <vector>

#include "core/error.h"

namespace brokerkey {

uid_t user_id(const std::string& name) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    throw not_found("no user '" + name + "' on this host");
  }
  return found->pw_uid;
}

gid_t group_id(const std::string& name) {
  struct group entry {};
  struct group* found = nullptr;
  std::vector<char> buffer(65536);  // a group entry lists its members
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    throw not_found("no group '" + name + "' on this host");
  }
  return found->gr_gid;
}

}  // namespace brokerkey
