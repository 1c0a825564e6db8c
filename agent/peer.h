// Who is on the other end of a unix socket, as the kernel says: SO_PEERCRED (pid, uid, gid at
// connect time) and SO_PEERGROUPS (the supplementary groups). Nothing the client sends can
// change it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace brokerkey::agent {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  std::string executable;     // best effort: /proc/PID/exe, else "[comm]", else ""
};

// Throws file_error when the kernel does not say (not a unix socket).
Peer peer_of(int socket_fd);

}  // namespace brokerkey::agent
