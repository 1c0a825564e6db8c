// brokerkey-agent: the broker as a process of its own (docs/AGENT.md). The only process that
// reads the backend PIN, opens the backend and writes the signing log; consumers reach it
// through a unix socket with the ssh-agent protocol.
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"
#include "core/version.h"
#include "listen_socket.h"
#include "log.h"
#include "server.h"

namespace {

namespace agent = brokerkey::agent;
namespace fs = std::filesystem;

constexpr const char* kUsage =
    "Usage: brokerkey-agent [--config FILE] [--socket PATH] [--idle-timeout SECONDS]\n"
    "                       [--frame-timeout SECONDS] [--max-connections N]\n"
    "\n"
    "Serves the broker key over the ssh-agent protocol (RFC 9987) on a unix socket: stock\n"
    "ssh-add, ssh-keygen -Y sign, ssh and git sign through it with SSH_AUTH_SOCK=PATH.\n"
    "Each connection is identified by the kernel (uid, groups) and mapped to a consumer of\n"
    "the ledger; each signature is checked against that consumer's policy and rate, and\n"
    "leaves only after its record in the signing log is durable. Runs in the foreground and\n"
    "logs to stderr; its start line names the socket with its and its directory's mode and\n"
    "owners (who can connect). SIGTERM or SIGINT finishes the requests in flight, then exits.\n"
    "\n"
    "  --config FILE   the broker configuration (default: $BROKERKEY_CONF, else\n"
    "                  ~/.config/brokerkey/brokerkey.conf, else /etc/brokerkey/brokerkey.conf)\n"
    "  --socket PATH   listen on PATH (default: the configuration's agent.socket, with the\n"
    "                  group agent.socket_group: 'brokerkey agent-config' sets both); ignored\n"
    "                  when systemd passes a socket (socket activation)\n"
    "  --idle-timeout SECONDS\n"
    "                  close a connection that starts no request for this long (1-3600,\n"
    "                  default 60)\n"
    "  --frame-timeout SECONDS\n"
    "                  close a connection whose request has not arrived whole this long\n"
    "                  after it began, or whose answer is not taken (1-300, default 10)\n"
    "  --max-connections N\n"
    "                  connections open at once; a further one is closed at accept\n"
    "                  (1-4096, default 128)\n"
    "  --help          show this text\n"
    "  --version       show the version\n";

struct Options {
  std::optional<fs::path> config;
  std::optional<fs::path> socket;
  agent::ServerLimits limits;
};

// A whole decimal number within [low, high]; nullopt otherwise.
std::optional<long> bounded_number(const char* text, long low, long high) {
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < low || value > high) return std::nullopt;
  return value;
}

// Exit status 2 with one line on a usage error, as the keytool does.
std::optional<Options> parse_options(int argc, char** argv, int& status) {
  static const struct option kLong[] = {{"config", required_argument, nullptr, 'c'},
                                        {"socket", required_argument, nullptr, 's'},
                                        {"idle-timeout", required_argument, nullptr, 'i'},
                                        {"frame-timeout", required_argument, nullptr, 'f'},
                                        {"max-connections", required_argument, nullptr, 'm'},
                                        {"help", no_argument, nullptr, 'h'},
                                        {"version", no_argument, nullptr, 'V'},
                                        {nullptr, 0, nullptr, 0}};
  Options options;
  opterr = 0;
  for (int c; (c = ::getopt_long(argc, argv, "", kLong, nullptr)) != -1;) {
    switch (c) {
      case 'c': options.config = optarg; break;
      case 's': options.socket = optarg; break;
      case 'i':
      case 'f':
      case 'm': {
        struct Bound {
          const char* name;
          long low, high;
        };
        Bound bound = c == 'i' ? Bound{"--idle-timeout", 1, 3600}
                      : c == 'f' ? Bound{"--frame-timeout", 1, 300}
                                 : Bound{"--max-connections", 1, 4096};
        std::optional<long> value = bounded_number(optarg, bound.low, bound.high);
        if (!value) {
          std::cerr << "brokerkey-agent: " << bound.name << " takes a whole number from " << bound.low
                    << " to " << bound.high << ", not '" << optarg << "'\n";
          status = 2;
          return std::nullopt;
        }
        if (c == 'i') options.limits.idle_timeout = std::chrono::seconds(*value);
        if (c == 'f') options.limits.frame_timeout = std::chrono::seconds(*value);
        if (c == 'm') options.limits.max_connections = static_cast<std::size_t>(*value);
        break;
      }
      case 'h': std::cout << kUsage; status = 0; return std::nullopt;
      case 'V': std::cout << "brokerkey-agent " << brokerkey::kVersion << "\n"; status = 0; return std::nullopt;
      default:
        std::cerr << "brokerkey-agent: unknown or incomplete option '" << argv[optind - 1]
                  << "' (see --help)\n";
        status = 2;
        return std::nullopt;
    }
  }
  if (optind != argc) {
    std::cerr << "brokerkey-agent: unexpected argument '" << argv[optind] << "' (see --help)\n";
    status = 2;
    return std::nullopt;
  }
  return options;
}

// As ssh-agent does, the agent removes the socket it created when it stops, however it stops.
struct SocketFile {
  fs::path path;
  SocketFile() = default;
  SocketFile(const SocketFile&) = delete;
  SocketFile& operator=(const SocketFile&) = delete;
  ~SocketFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// "MODE USER:GROUP" of a file as it is on disk (ls -n when the host has no name for an id).
std::string mode_and_owner(const struct stat& info) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
  std::vector<char> buffer(65536);  // a group entry lists its members
  struct passwd user {};
  struct passwd* user_found = nullptr;
  std::string out = std::string(mode) + " ";
  if (::getpwuid_r(info.st_uid, &user, buffer.data(), buffer.size(), &user_found) == 0 && user_found) {
    out += user_found->pw_name;
  } else {
    out += std::to_string(info.st_uid);
  }
  struct group group {};
  struct group* group_found = nullptr;
  out += ":";
  if (::getgrgid_r(info.st_gid, &group, buffer.data(), buffer.size(), &group_found) == 0 && group_found) {
    out += group_found->gr_name;
  } else {
    out += std::to_string(info.st_gid);
  }
  return out;
}

// Who can connect, as the socket file and its directory are on disk now: "(socket 0660
// _brokerkey:brokerkey-consumers, directory 0750 root:brokerkey-consumers)".
std::string on_disk(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return std::string(" (cannot stat it: ") + std::strerror(errno) + ")";
  std::string out = std::string(" (socket ") + mode_and_owner(info);
  fs::path directory = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (::stat(directory.c_str(), &info) == 0) out += std::string(", directory ") + mode_and_owner(info);
  return out + ")";
}

// The path a listening unix socket is bound to (what systemd's ListenStream= named); nullopt
// for an abstract or unnamed socket.
std::optional<fs::path> bound_path(int fd) {
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return std::nullopt;
  std::size_t offset = offsetof(sockaddr_un, sun_path);
  if (length <= offset || length > sizeof address || address.sun_path[0] == '\0') return std::nullopt;
  return fs::path(std::string(address.sun_path, ::strnlen(address.sun_path, length - offset)));
}

int serve(const Options& options) {
  brokerkey::Config config = brokerkey::load_config(options.config ? *options.config : brokerkey::locate_config());

  // Signals become a readable descriptor; blocked before any thread starts, so every thread
  // inherits the mask and only the server loop sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  brokerkey::UniqueFd stop_fd(::signalfd(-1, &stop_signals, SFD_CLOEXEC));
  if (!stop_fd) throw brokerkey::file_error(std::string("signalfd: ") + std::strerror(errno));

  // The backend first: an agent that cannot sign (a wrong PIN, a missing token) fails before
  // it takes a socket clients would then wait on.
  brokerkey::Pkcs11Backend backend(config.backend);
  std::optional<agent::SigningLogWriter> signing_log;
  if (config.signing_log.empty()) {
    agent::log(agent::Level::warning, "the configuration names no signing_log: signatures are not logged");
  } else {
    signing_log.emplace(config.signing_log);
  }

  brokerkey::UniqueFd listener = agent::activated_socket();
  std::string where;
  if (listener) {
    std::optional<fs::path> passed = bound_path(listener.get());
    where = std::string("the socket systemd passed") +
            (passed ? std::string(", ") + passed->string() + on_disk(*passed) : std::string(" (an abstract or unnamed socket)"));
  }
  SocketFile created;  // the socket this agent made, removed again when it stops
  if (!listener) {
    fs::path path = options.socket ? *options.socket : config.agent.socket;
    if (path.empty()) {
      throw brokerkey::config_bad("no socket to listen on: give --socket PATH or set agent.socket in " +
                                  config.file.string());
    }
    listener = agent::create_listen_socket(path, config.agent.socket_group);
    created.path = path;
    where = path.string() + on_disk(path);
  }
  agent::AgentService service(config, backend, signing_log ? &*signing_log : nullptr);
  agent::Server server(listener.get(), service, options.limits);
  agent::log(agent::Level::notice, std::string("brokerkey-agent ") + brokerkey::kVersion + " serving " + config.file.string() +
                                       " on " + where);
  // Type=notify (packaging/brokerkey-agent.service): ready once the backend is open and the
  // socket listens; a no-op when systemd did not start the agent (no NOTIFY_SOCKET).
  ::sd_notify(0, "READY=1");
  server.run(stop_fd.get());
  ::sd_notify(0, "STOPPING=1");
  agent::log(agent::Level::notice, "stopped: every request in flight was answered");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  std::optional<Options> options = parse_options(argc, argv, status);
  if (!options) return status;
  try {
    return serve(*options);
  } catch (const std::exception& e) {
    agent::log(agent::Level::error, std::string("brokerkey-agent: ") + e.what());
    return 1;
  }
}
