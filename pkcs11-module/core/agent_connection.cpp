#include "core/agent_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fd_wait.h"

namespace brokerkey {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Error agent_unavailable(const std::string& what) { return Error(CKR_DEVICE_REMOVED, "brokerkey-agent: " + what); }

AgentConnection::AgentConnection(const fs::path& socket, std::chrono::milliseconds timeout)
    : socket_(socket), timeout_(timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string& path = socket.native();
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    throw agent_unavailable("socket path '" + path + "' is empty or longer than " +
                            std::to_string(sizeof address.sun_path - 1) + " bytes");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw agent_unavailable(std::string("socket: ") + std::strerror(errno));
  // A unix socket's connect does not block for long (the listen backlog is full at worst), so
  // it is made without a deadline; the exchanges have one.
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    fd_.reset();
    throw agent_unavailable("cannot connect to " + path + ": " + std::strerror(error));
  }
}

Bytes AgentConnection::call(ByteView request) {
  if (!fd_) throw agent_unavailable("the connection to " + socket_.string() + " was lost earlier");
  Clock::time_point deadline = Clock::now() + timeout_;
  auto lost = [&](const std::string& why) {
    fd_.reset();
    return agent_unavailable(why + " (" + socket_.string() + ")");
  };
  Bytes frame = agent::framed(request);
  WipeOnExit wipe(frame);
  for (std::size_t done = 0; done < frame.size();) {
    if (!ready_before(fd_.get(), POLLOUT, deadline)) throw lost("timed out sending a request");
    ssize_t n = ::send(fd_.get(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) throw lost(std::string("connection lost: ") + (n < 0 ? std::strerror(errno) : "closed"));
    done += static_cast<std::size_t>(n);
  }
  auto receive = [&](std::uint8_t* out, std::size_t size) {
    for (std::size_t done = 0; done < size;) {
      if (!ready_before(fd_.get(), POLLIN, deadline)) throw lost("no answer in time");
      ssize_t n = ::recv(fd_.get(), out + done, size - done, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n == 0) throw lost("the connection was closed by the other end");
      if (n < 0) throw lost(std::string("connection lost: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  };
  std::uint8_t header[4];
  receive(header, sizeof header);
  std::size_t length = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 |
                       std::size_t{header[2]} << 8 | header[3];
  if (length == 0 || length > agent::kMaxFrameLength) {
    throw lost("answer of " + std::to_string(length) + " bytes");
  }
  Bytes body(length);
  receive(body.data(), body.size());
  return body;
}

namespace {

// Runs a parser over a response: a malformed one makes the agent unusable, as a lost one does.
template <typename Parse>
auto parsed(AgentConnection& connection, ByteView request, Parse parse) {
  Bytes response = connection.call(request);
  try {
    return parse(response);
  } catch (const agent::MalformedMessage& e) {
    throw agent_unavailable(std::string("answer breaks the protocol: ") + e.what());
  }
}

}  // namespace

std::optional<std::vector<agent::Identity>> AgentConnection::identities() {
  return parsed(*this, agent::request_identities_message(),
                [](ByteView body) { return agent::parse_identities_answer(body); });
}

std::optional<Bytes> AgentConnection::sign(ByteView key_blob, ByteView data) {
  return parsed(*this, agent::sign_request_message(key_blob, data),
                [](ByteView body) { return agent::parse_ed25519_sign_response(body); });
}

std::optional<std::string> AgentConnection::text_extension(std::string_view name,
                                                           std::optional<std::string_view> argument) {
  agent::WireWriter writer;
  if (argument) writer.string(*argument);
  Bytes contents = writer.take();
  WipeOnExit wipe_contents(contents);  // it may hold a PIN, and so may the request
  Bytes request = agent::extension_message(name, contents);
  WipeOnExit wipe(request);
  return parsed(*this, request, [name](ByteView body) -> std::optional<std::string> {
    std::optional<Bytes> response = agent::parse_extension_response(body, name);
    if (!response) return std::nullopt;
    agent::WireReader in(*response);
    std::string text(in.text());
    in.expect_end("extension response");
    return text;
  });
}

}  // namespace brokerkey
