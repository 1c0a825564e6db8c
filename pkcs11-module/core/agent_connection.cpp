#include "core/agent_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fd_wait.h"

namespace brokerkey {

namespace {

using Clock = std::chrono::steady_clock;

// How long the probe of with_likely_cause waits for the socket to take a connection.
constexpr std::chrono::seconds kProbeTimeout{5};

}  // namespace

Error agent_unavailable(const std::string& what) { return Error(CKR_DEVICE_REMOVED, "brokerkey-agent: " + what); }

AgentConnectionLost::AgentConnectionLost(const fs::path& socket, Loc where)
    : Error(CKR_DEVICE_REMOVED, "brokerkey-agent: the connection was closed by the other end (" + socket.string() + ")",
            where),
      socket_(socket) {}

Error with_likely_cause(const AgentConnectionLost& lost) {
  try {
    AgentConnection probe(lost.socket(), kProbeTimeout);
  } catch (const Error&) {
    return Error(CKR_DEVICE_REMOVED,
                 lost.what() + std::string(", and ") + lost.socket().string() +
                     " takes no connection now (the agent, or the ssh forwarding that carries its socket, went away)",
                 lost.where());
  }
  return Error(CKR_DEVICE_REMOVED, lost.what() + std::string(" ") + kUnmappedAccountHint, lost.where());
}

namespace {
// What a failed connect most likely means to the consumer who reads it: the agent removes its
// socket when it stops (ENOENT), a socket nobody listens on was left by an agent or an ssh
// forwarding that ended (ECONNREFUSED), and the socket and its directory admit the consumers'
// group only (EACCES, docs/AGENT.md). A runner's socket may be ssh's (docs/CONSUMERS.md
// section 10), so the hints name both.
std::string connect_failure_hint(int error) {
  switch (error) {
    case ENOENT:
      return " (is brokerkey-agent running, or the ssh forwarding that carries its socket? the agent removes its "
             "socket when it stops)";
    case ECONNREFUSED:
      return " (nothing listens on it: the agent, or the ssh forwarding that carries its socket, ended and left it "
             "behind)";
    case EACCES:
      return " (this account may not open it: is it in the group the socket is shared with? "
             "'brokerkey agent-config' on the broker's host shows that group)";
    default:
      return "";
  }
}
}  // namespace

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
  // A unix socket's connect waits while the listener's backlog is full (an agent that is
  // stopped, or accepts more slowly than it is asked), with no end of its own: Linux bounds
  // that wait by the socket's send timeout, then fails with EAGAIN. A signal ends the wait early
  // (EINTR, the socket still unconnected): the connect starts again with the time left. The
  // send timeout stays set afterwards and is moot: every send here is MSG_DONTWAIT.
  Clock::time_point deadline = Clock::now() + timeout;
  auto timed_out = [&] {
    fd_.reset();
    return agent_unavailable("cannot connect to " + path + ": timed out, the agent takes no connection (stopped, or swamped)");
  };
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    if (left.count() <= 0) throw timed_out();
    timeval wait{};  // never all zero here: that would be no timeout at all
    wait.tv_sec = static_cast<time_t>(left.count() / 1000000);
    wait.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
    if (::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof wait) != 0) {
      int error = errno;
      fd_.reset();
      throw agent_unavailable(std::string("setsockopt SO_SNDTIMEO: ") + std::strerror(error));
    }
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return;
    int error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN) throw timed_out();
    fd_.reset();
    throw agent_unavailable("cannot connect to " + path + ": " + std::strerror(error) + connect_failure_hint(error));
  }
}

Bytes AgentConnection::call(ByteView request) {
  if (!fd_) throw agent_unavailable("the connection to " + socket_.string() + " was lost earlier");
  Clock::time_point deadline = Clock::now() + timeout_;
  auto failed = [&](const std::string& why) {
    fd_.reset();
    return agent_unavailable(why + " (" + socket_.string() + ")");
  };
  // The other end closed the connection: a send or receive of 0 bytes, EPIPE or ECONNRESET.
  auto closed = [&] {
    fd_.reset();
    return AgentConnectionLost(socket_);
  };
  Bytes frame = agent::framed(request);
  WipeOnExit wipe(frame);
  for (std::size_t done = 0; done < frame.size();) {
    if (!ready_before(fd_.get(), POLLOUT, deadline)) throw failed("timed out sending a request");
    ssize_t n = ::send(fd_.get(), frame.data() + done, frame.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n == 0 || (n < 0 && (errno == EPIPE || errno == ECONNRESET))) throw closed();
    if (n < 0) throw failed(std::string("sending failed: ") + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  auto receive = [&](std::uint8_t* out, std::size_t size) {
    for (std::size_t done = 0; done < size;) {
      if (!ready_before(fd_.get(), POLLIN, deadline)) throw failed("no answer in time");
      ssize_t n = ::recv(fd_.get(), out + done, size - done, MSG_DONTWAIT);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n == 0 || (n < 0 && (errno == EPIPE || errno == ECONNRESET))) throw closed();
      if (n < 0) throw failed(std::string("receiving failed: ") + std::strerror(errno));
      done += static_cast<std::size_t>(n);
    }
  };
  std::uint8_t header[4];
  receive(header, sizeof header);
  std::size_t length = std::size_t{header[0]} << 24 | std::size_t{header[1]} << 16 |
                       std::size_t{header[2]} << 8 | header[3];
  if (length == 0 || length > agent::kMaxFrameLength) {
    throw failed("answer of " + std::to_string(length) + " bytes");
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
