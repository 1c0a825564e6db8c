// Test support for brokerkey-agent: the built agent as a child process on a socket of the
// test's own, and a small ssh-agent client written on agent/wire.h and agent/protocol.h, which
// tells a clean answer (a signature, SSH_AGENT_FAILURE) from a dropped connection and from a
// reply that breaks the protocol.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/unique_fd.h"

namespace fs = std::filesystem;

// brokerkey-agent --config CONF --socket SOCKET [EXTRA...], its stderr appended to LOG.
class AgentProcess {
 public:
  AgentProcess(fs::path conf, fs::path socket, fs::path log, std::vector<std::string> extra = {});
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;
  ~AgentProcess();  // SIGKILL if still running

  // Starts it and waits (at most 20 s) until its socket accepts; fails the test otherwise.
  void start();
  // SIGKILL, then reaps it.
  void kill_now();
  // SIGTERM, then reaps it; its exit status (-1 for a signal).
  int stop();
  bool running();
  pid_t pid() const { return pid_; }
  std::string log_text() const;

 private:
  fs::path conf_, socket_, log_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

class AgentClient {
 public:
  using Clock = std::chrono::steady_clock;
  // Connects; an empty client (connected() false, error() set) when the socket refuses.
  explicit AgentClient(const fs::path& socket);
  bool connected() const { return static_cast<bool>(fd_); }
  int error() const { return errno_; }  // errno of the connect that failed

  enum class Read { frame, closed, timeout };
  // Bytes out as they are, no framing added; false when the connection is gone.
  bool send_raw(brokerkey::ByteView bytes);
  // One frame's body, or why none came within `timeout`.
  Read read_frame(brokerkey::Bytes& body, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Waits until the agent closes the connection (reading and dropping anything it sends);
  // false when it is still open after `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

  // A whole request/response: nullopt when the connection broke or timed out.
  std::optional<brokerkey::Bytes> call(const brokerkey::Bytes& body,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

  struct Identities {
    bool ok = false;            // an SSH_AGENT_IDENTITIES_ANSWER that parsed
    std::string problem;        // otherwise, what came instead
    std::vector<brokerkey::Bytes> keys;
    std::vector<std::string> comments;
  };
  Identities identities();

  struct Signed {
    enum class Kind { signature, failure, connection, malformed } kind = Kind::connection;
    brokerkey::Bytes signature;  // the 64 Ed25519 bytes, for Kind::signature
    std::string problem;         // for Kind::malformed
  };
  Signed sign(const brokerkey::Bytes& key_blob, const brokerkey::Bytes& data, std::uint32_t flags = 0);

  void close() { fd_.reset(); }

 private:
  brokerkey::UniqueFd fd_;
  int errno_ = 0;
};

// SSHSIG's signed data (PROTOCOL.sshsig) for `message` in `ssh_namespace`, hashed with SHA-512.
brokerkey::Bytes sshsig_signed_data(std::string_view ssh_namespace, std::string_view message);
