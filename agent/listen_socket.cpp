#include "listen_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "core/accounts.h"
#include "core/error.h"
#include "core/files.h"

namespace brokerkey::agent {

namespace fs = std::filesystem;

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

sockaddr_un address_of(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof address.sun_path) {
    throw config_bad("socket path " + path.string() + " is longer than a unix socket address allows");
  }
  std::memcpy(address.sun_path, path.c_str(), path.native().size() + 1);
  return address;
}

// `name` inside the checked directory `directory`, as a path that reaches it through that
// directory's descriptor: bind() and connect() take no directory descriptor, and a path by
// name could be swapped between the check and the use.
fs::path through(const UniqueFd& directory, const std::string& name) {
  return fs::path("/proc/self/fd") / std::to_string(directory.get()) / name;
}

// Removes a socket no agent answers on; refuses anything else at `name`.
void clear_stale_socket(const UniqueFd& directory, const std::string& name, const fs::path& shown) {
  struct stat info {};
  if (::fstatat(directory.get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw file_error(errno_text(shown.string()));
  }
  if (!S_ISSOCK(info.st_mode)) throw config_bad(shown.string() + " exists and is not a socket; not replacing it");
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address = address_of(through(directory, name));
  if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    throw config_bad("another agent is listening on " + shown.string());
  }
  if (::unlinkat(directory.get(), name.c_str(), 0) != 0) {
    throw file_error(errno_text("cannot remove stale socket " + shown.string()));
  }
}

}  // namespace

UniqueFd activated_socket() {
  int count = sd_listen_fds(1);
  if (count < 0) throw config_bad(std::string("systemd socket activation: ") + std::strerror(-count));
  if (count == 0) return {};
  if (count != 1) throw config_bad("systemd passed " + std::to_string(count) + " sockets; the agent takes one");
  int fd = SD_LISTEN_FDS_START;
  if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    throw config_bad("the socket systemd passed is not a listening unix stream socket");
  }
  return UniqueFd(fd);
}

UniqueFd create_listen_socket(const fs::path& path, const std::string& group) {
  fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  std::optional<gid_t> gid;
  if (!group.empty()) {
    try {
      gid = group_id(group);
    } catch (const Error& e) {
      throw config_bad(std::string("agent.socket_group: ") + e.what());
    }
  }
  if (::mkdir(directory.c_str(), 0750) == 0) {
    if (gid && ::chown(directory.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      throw file_error(errno_text("cannot give " + directory.string() + " to group " + group));
    }
  } else if (errno != EEXIST) {
    throw file_error(errno_text("cannot create socket directory " + directory.string()));
  }
  // The directory and every one above it: nobody but this user and root can change them.
  UniqueFd checked;
  try {
    checked = check_trusted_directory(directory);
  } catch (const Error& e) {
    throw config_bad(std::string("socket directory: ") + e.what());
  }
  std::string name = path.filename().string();
  if (name.empty() || name == "." || name == "..") throw config_bad("socket path " + path.string() + " names no file");
  clear_stale_socket(checked, name, path);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw file_error(errno_text("socket"));
  sockaddr_un address = address_of(through(checked, name));
  // bind() creates the socket file with the umask's mode: 0660 from its first moment.
  mode_t saved = ::umask(0117);
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::umask(saved);
  if (bound != 0) throw file_error(errno_text("cannot bind " + path.string()));
  if (gid && ::fchownat(checked.get(), name.c_str(), static_cast<uid_t>(-1), *gid, AT_SYMLINK_NOFOLLOW) != 0) {
    throw file_error(errno_text("cannot give " + path.string() + " to group " + group));
  }
  if (::listen(fd.get(), 128) != 0) throw file_error(errno_text("cannot listen on " + path.string()));
  return fd;
}

}  // namespace brokerkey::agent
