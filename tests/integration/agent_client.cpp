#include "agent_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/agent_protocol.h"
#include "core/agent_wire.h"

extern char** environ;

using namespace brokerkey;
using namespace brokerkey::agent;

AgentProcess::AgentProcess(fs::path conf, fs::path socket, fs::path log, std::vector<std::string> extra)
    : conf_(std::move(conf)), socket_(std::move(socket)), log_(std::move(log)), extra_(std::move(extra)) {}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) kill_now();
}

void AgentProcess::start() {
  BOOST_REQUIRE(pid_ < 0);
  std::vector<std::string> args{BROKERKEY_AGENT, "--config", conf_.string(), "--socket", socket_.string()};
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
  int spawned = ::posix_spawn(&pid_, BROKERKEY_AGENT, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  BOOST_REQUIRE_MESSAGE(spawned == 0, "posix_spawn " BROKERKEY_AGENT ": " << std::strerror(spawned));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    BOOST_REQUIRE_MESSAGE(running(), "brokerkey-agent exited at start: " << log_text());
    if (AgentClient(socket_).connected()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_FAIL("brokerkey-agent does not accept on " << socket_ << " after 20 s: " << log_text());
}

bool AgentProcess::running() {
  if (pid_ < 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

void AgentProcess::kill_now() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int AgentProcess::stop() {
  if (pid_ < 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string AgentProcess::log_text() const {
  std::ifstream in(log_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

AgentClient::AgentClient(const fs::path& socket) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    errno_ = errno;
    return;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    errno_ = errno;
    return;
  }
  fd_ = std::move(fd);
}

bool AgentClient::send_raw(ByteView bytes) {
  std::size_t done = 0;
  while (fd_ && done < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<bool>(fd_);
}

namespace {

// Reads exactly out.size() bytes; Read::closed on end of file or a reset.
AgentClient::Read read_exactly(int fd, std::span<std::uint8_t> out, AgentClient::Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < out.size()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - AgentClient::Clock::now());
    if (left.count() <= 0) return AgentClient::Read::timeout;
    struct pollfd p {fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return AgentClient::Read::timeout;
    ssize_t n = ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return AgentClient::Read::closed;
    done += static_cast<std::size_t>(n);
  }
  return AgentClient::Read::frame;
}

}  // namespace

AgentClient::Read AgentClient::read_frame(Bytes& body, std::chrono::milliseconds timeout) {
  if (!fd_) return Read::closed;
  Clock::time_point deadline = Clock::now() + timeout;
  std::uint8_t header[4];
  Read got = read_exactly(fd_.get(), header, deadline);
  if (got != Read::frame) return got;
  std::size_t length = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 |
                       std::size_t{header[2]} << 8 | header[3];
  if (length > kMaxFrameLength) return Read::closed;  // no agent answers that: treat as broken
  body.assign(length, 0);
  return read_exactly(fd_.get(), body, deadline);
}

bool AgentClient::wait_closed(std::chrono::milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  std::uint8_t sink[4096];
  for (;;) {
    Read got = read_exactly(fd_.get(), std::span(sink, 1), deadline);
    if (got == Read::closed) return true;
    if (got == Read::timeout) return false;
  }
}

std::optional<Bytes> AgentClient::call(const Bytes& body, std::chrono::milliseconds timeout) {
  if (!send_raw(framed(body))) return std::nullopt;
  Bytes response;
  if (read_frame(response, timeout) != Read::frame) return std::nullopt;
  return response;
}

AgentClient::Identities AgentClient::identities() {
  Identities out;
  std::optional<Bytes> response = call({SSH_AGENTC_REQUEST_IDENTITIES});
  if (!response) {
    out.problem = "connection lost";
    return out;
  }
  try {
    WireReader in(*response);
    std::uint8_t type = in.byte();
    if (type != SSH_AGENT_IDENTITIES_ANSWER) {
      out.problem = "message type " + std::to_string(type) + " instead of an identities answer";
      return out;
    }
    for (std::uint32_t count = in.u32(); count > 0; --count) {
      ByteView key = in.string();
      out.keys.emplace_back(key.begin(), key.end());
      out.comments.emplace_back(in.text());
    }
    in.expect_end("identities answer");
    out.ok = true;
  } catch (const MalformedMessage& e) {
    out.problem = e.what();
  }
  return out;
}

AgentClient::Signed AgentClient::sign(const Bytes& key_blob, const Bytes& data, std::uint32_t flags) {
  Signed out;
  WireWriter request;
  request.byte(SSH_AGENTC_SIGN_REQUEST).string(key_blob).string(data).u32(flags);
  std::optional<Bytes> response = call(request.bytes());
  if (!response) return out;
  if (*response == failure_message()) {
    out.kind = Signed::Kind::failure;
    return out;
  }
  out.kind = Signed::Kind::malformed;
  try {
    WireReader in(*response);
    if (in.byte() != SSH_AGENT_SIGN_RESPONSE) {
      out.problem = "not a sign response: " + hex_encode(*response);
      return out;
    }
    WireReader blob(in.string());
    in.expect_end("sign response");
    std::string_view algorithm = blob.text();
    ByteView signature = blob.string();
    blob.expect_end("signature blob");
    if (algorithm != "ssh-ed25519" || signature.size() != 64) {
      out.problem = "signature blob of " + std::string(algorithm) + " with " + std::to_string(signature.size()) +
                    " bytes";
      return out;
    }
    out.signature.assign(signature.begin(), signature.end());
    out.kind = Signed::Kind::signature;
  } catch (const MalformedMessage& e) {
    out.problem = e.what();
  }
  return out;
}

Bytes sshsig_signed_data(std::string_view ssh_namespace, std::string_view message) {
  auto hash = sha512(as_bytes(message));
  WireWriter out;
  out.raw(as_bytes("SSHSIG")).string(ssh_namespace).string(std::string_view()).string(std::string_view("sha512"));
  out.string(ByteView(hash));
  return out.take();
}
