// brokerkey agent-config: where brokerkey-agent listens and which group may connect (the
// configuration's agent.socket and agent.socket_group), shown, or set without hand-editing the
// 0600 JSON: validated here, written by save_config as every other configuration change.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "core/accounts.h"
#include "core/error.h"
#include "core/text.h"

namespace brokerkey {

// A unix socket address holds 108 bytes with its terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

fs::path socket_option(const std::string& text) {
  if (text.size() > kMaxSocketPath) {
    throw cli::UsageError(std::string("--socket is ") + std::to_string(text.size()) +
                          " bytes long; a unix socket address holds at most " + std::to_string(kMaxSocketPath));
  }
  if (auto fault = text_fault(text)) throw cli::UsageError(std::string("--socket ") + *fault);
  fs::path path(text);
  if (!path.is_absolute()) {
    throw cli::UsageError(std::string("--socket must be an absolute path (a configuration is used from any directory), not '") +
                          text + "'");
  }
  return path.lexically_normal();
}

namespace {

// The socket path as the agent will use it (socket_option), naming a file, with a directory
// that exists or that the agent can create (it makes the socket's own directory, one level,
// mode 0750), and nothing but a socket already at the path.
fs::path checked_socket(const std::string& text) {
  fs::path path = socket_option(text);
  std::string name = path.filename().string();
  if (name.empty() || name == "." || name == "..") throw cli::UsageError(std::string("--socket ") + text + " names no file");
  fs::path directory = path.parent_path();
  struct stat info {};
  if (::stat(directory.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) throw file_error(std::string("--socket ") + path.string() + ": " + directory.string() + " is not a directory");
  } else if (errno != ENOENT && errno != ENOTDIR) {
    throw file_error(std::string("--socket ") + path.string() + ": " + directory.string() + ": " + std::strerror(errno));
  } else if (::stat(directory.parent_path().c_str(), &info) != 0) {
    throw file_error(std::string("--socket ") + path.string() + ": neither " + directory.string() + " nor " +
                     directory.parent_path().string() +
                     " exists; brokerkey-agent creates only the socket's own directory");
  } else if (!S_ISDIR(info.st_mode)) {
    throw file_error(std::string("--socket ") + path.string() + ": " + directory.parent_path().string() +
                     " is not a directory");
  }
  if (::lstat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
    throw file_error(std::string("--socket ") + path.string() + " exists and is not a socket; the agent would not replace it");
  }
  return path;
}

// A group of this host, as the agent looks it up (group_id: getgrnam_r) when it makes the socket.
std::string checked_group(const std::string& group) {
  if (auto fault = text_fault(group, 256)) throw cli::UsageError(std::string("--socket-group ") + *fault);
  group_id(group);  // throws "no group 'G' on this host"
  return group;
}

void print_settings(const Config& config) {
  std::cout << "socket:        "
            << (config.agent.socket.empty() ? std::string("(none: brokerkey-agent needs --socket PATH or a socket from systemd)")
                                            : printable(config.agent.socket.string()))
            << "\n"
            << "socket group:  "
            << (config.agent.socket_group.empty() ? std::string("(none: the agent's own group; its account and that group's members connect)")
                                                  : printable(config.agent.socket_group))
            << "\n";
}

int run_agent_config(const cli::Args& args) {
  auto socket = args.value("socket");
  auto group = args.value("socket-group");
  if (socket && args.flag("clear-socket")) throw cli::UsageError("--socket and --clear-socket exclude each other");
  if (group && args.flag("clear-socket-group")) {
    throw cli::UsageError("--socket-group and --clear-socket-group exclude each other");
  }
  Config config = load_embedded_config();  // a client configuration has no agent to run: refused
  Config updated = config;
  if (socket) updated.agent.socket = checked_socket(*socket);
  if (args.flag("clear-socket")) updated.agent.socket.clear();
  if (group) updated.agent.socket_group = checked_group(*group);
  if (args.flag("clear-socket-group")) updated.agent.socket_group.clear();

  bool changes = socket || group || args.flag("clear-socket") || args.flag("clear-socket-group");
  if (!changes) {
    std::cout << "brokerkey-agent's socket in " << config.file.string() << ":\n";
    print_settings(config);
    return 0;
  }
  if (updated.agent.socket == config.agent.socket && updated.agent.socket_group == config.agent.socket_group) {
    std::cout << "Unchanged in " << config.file.string() << ":\n";
    print_settings(config);
    return 0;
  }
  save_config(updated);
  std::cout << "Written to " << config.file.string() << ":\n";
  print_settings(updated);
  std::cout << "Restart brokerkey-agent to take it up: it reads its configuration when it starts.\n";
  return 0;
}

}  // namespace

const Command kAgentConfigCommand{
    "agent-config",
    "show or set where brokerkey-agent listens and which group may connect",
    "[--socket PATH | --clear-socket] [--socket-group GROUP | --clear-socket-group]\n\n"
    "Without an option: prints the broker configuration's agent.socket and agent.socket_group.\n"
    "With one, sets them in the configuration (replaced atomically, mode 0600, as every command\n"
    "that writes it; on any error nothing is written) and prints the result.\n\n"
    "  --socket PATH          the unix socket brokerkey-agent creates (absolute, at most 107\n"
    "                         bytes); its directory must exist, or its parent (the agent then\n"
    "                         creates it, mode 0750). The agent's own --socket overrides it.\n"
    "  --socket-group GROUP   a group of this host that owns the socket (mode 0660): the\n"
    "                         consumers' group. Without one, the agent's own (primary) group.\n"
    "  --clear-socket, --clear-socket-group\n"
    "                         remove the setting\n\n"
    "brokerkey-agent reads its configuration when it starts: restart it after a change. An\n"
    "agent started by systemd socket activation ignores both; its .socket unit sets them\n"
    "(ListenStream=, SocketGroup=, SocketMode=). The agent checks at start that the socket's\n"
    "directories are writable by its account and root only.\n\n"
    "Not recorded in the ledger: where the agent listens and who may reach its socket is\n"
    "deployment, not policy. Every connection is still mapped by the kernel's peer credentials\n"
    "to a consumer, whose policy in the ledger says what it may sign; a peer that is no consumer\n"
    "is refused whatever its group. Only an embedded (broker) configuration has these settings;\n"
    "a client configuration is refused.\n",
    {{"socket", "socket-group"}, {"clear-socket", "clear-socket-group"}, 0, 0},
    run_agent_config,
};

}  // namespace brokerkey
