// AgentConnection against a listening socket this test holds itself, so that each way a
// connection ends can be made on purpose: a lost connection (closed after accept, or reset
// while it waited in the backlog) is AgentConnectionLost and reads the same either way; a
// timeout and a broken answer are not; with_likely_cause tells a socket that still takes
// connections from one that is gone; a full backlog makes the connect time out instead of
// waiting for ever.
#define BOOST_TEST_MODULE agent_connection
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/agent_connection.h"
#include "core/unique_fd.h"
#include "temp_dir.h"

using namespace brokerkey;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kGone = " takes no connection now (the agent, or the ssh forwarding that carries its socket, went away)";

// A listening unix socket at DIR/agent.sock that accepts only when told to.
struct Listener {
  TempDir dir;
  fs::path path = dir.path() / "agent.sock";
  UniqueFd fd;

  explicit Listener(int backlog = 16) {
    fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    BOOST_REQUIRE(path.native().size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.native().size());
    BOOST_REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    BOOST_REQUIRE(::listen(fd.get(), backlog) == 0);
  }
  UniqueFd accept_one() const {
    UniqueFd accepted(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    BOOST_REQUIRE(accepted);
    return accepted;
  }
  // The far end gone: nothing listens, and the socket file is removed.
  void go_away() {
    fd.reset();
    fs::remove(path);
  }
};

long elapsed_ms(Clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

Bytes request() { return Bytes{11}; }  // SSH_AGENTC_REQUEST_IDENTITIES

std::string closed_text(const fs::path& socket) {
  return "brokerkey-agent: the connection was closed by the other end (" + socket.string() + ")";
}

}  // namespace

BOOST_AUTO_TEST_CASE(closed_after_accept_is_a_lost_connection) {
  Listener listener;
  AgentConnection connection(listener.path, 2s);
  listener.accept_one().reset();
  try {
    connection.call(request());
    BOOST_FAIL("the call did not fail");
  } catch (const AgentConnectionLost& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(e.what() == closed_text(listener.path));
    BOOST_TEST(e.socket() == listener.path);
  }
  // The connection is closed after that; a second call says so and is no lost connection.
  try {
    connection.call(request());
    BOOST_FAIL("the second call did not fail");
  } catch (const AgentConnectionLost&) {
    BOOST_FAIL("a call on a connection closed earlier is not a new lost connection");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(std::string(e.what()).find("was lost earlier") != std::string::npos, e.what());
  }
}

// The listener closes with the connection still in its backlog (an agent killed before it
// accepted): the kernel resets it, and it reads as a connection closed by the other end.
BOOST_AUTO_TEST_CASE(reset_in_the_backlog_is_a_lost_connection_read_the_same) {
  Listener listener;
  AgentConnection connection(listener.path, 2s);
  listener.go_away();
  try {
    connection.call(request());
    BOOST_FAIL("the call did not fail");
  } catch (const AgentConnectionLost& e) {
    BOOST_TEST(e.what() == closed_text(listener.path));
  }
}

// Closed half-way through the answer, with the request left unread (ECONNRESET, or the end
// of file: timing): a lost connection too.
BOOST_AUTO_TEST_CASE(closed_half_way_through_the_answer_is_a_lost_connection) {
  Listener listener;
  AgentConnection connection(listener.path, 5s);
  UniqueFd accepted = listener.accept_one();
  std::thread agent([&] {
    struct pollfd p {accepted.get(), POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return;  // the request is in, and stays unread
    const std::uint8_t part[] = {0, 0, 0, 5, 12};  // a frame of 5 bytes, 1 of them sent
    if (::send(accepted.get(), part, sizeof part, MSG_NOSIGNAL) != sizeof part) return;
    accepted.reset();
  });
  try {
    connection.call(request());
    BOOST_ERROR("the call did not fail");
  } catch (const AgentConnectionLost& e) {
    BOOST_TEST(e.what() == closed_text(listener.path));
  }
  agent.join();
}

BOOST_AUTO_TEST_CASE(no_answer_in_time_is_not_a_lost_connection) {
  Listener listener;
  AgentConnection connection(listener.path, 300ms);
  UniqueFd accepted = listener.accept_one();  // open, and silent
  auto start = Clock::now();
  try {
    connection.call(request());
    BOOST_FAIL("the call did not fail");
  } catch (const AgentConnectionLost&) {
    BOOST_FAIL("a timeout is no lost connection");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(e.what() == "brokerkey-agent: no answer in time (" + listener.path.string() + ")");
  }
  BOOST_TEST(elapsed_ms(start) < 5000);
}

BOOST_AUTO_TEST_CASE(an_answer_that_breaks_the_frame_is_not_a_lost_connection) {
  Listener listener;
  AgentConnection connection(listener.path, 2s);
  UniqueFd accepted = listener.accept_one();
  const std::uint8_t empty_frame[] = {0, 0, 0, 0};
  BOOST_REQUIRE(::send(accepted.get(), empty_frame, sizeof empty_frame, MSG_NOSIGNAL) == 4);
  try {
    connection.call(request());
    BOOST_FAIL("the call did not fail");
  } catch (const AgentConnectionLost&) {
    BOOST_FAIL("a broken answer is no lost connection");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(std::string(e.what()).find("answer of 0 bytes") != std::string::npos, e.what());
  }
}

// The socket still takes a connection: the agent is there and closed this one, which it does
// to an account it maps to no consumer.
BOOST_AUTO_TEST_CASE(likely_cause_when_the_socket_still_takes_connections) {
  Listener listener;
  AgentConnection connection(listener.path, 2s);
  listener.accept_one().reset();
  try {
    connection.call(request());
    BOOST_FAIL("the call did not fail");
  } catch (const AgentConnectionLost& e) {
    Error explained = with_likely_cause(e);
    BOOST_TEST(explained.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(explained.what() == closed_text(listener.path) + " " + kUnmappedAccountHint);
  }
  // The probe sent nothing: what waits in the backlog is one connection, at its end of file.
  UniqueFd probe = listener.accept_one();
  char byte = 0;
  BOOST_TEST(::recv(probe.get(), &byte, 1, 0) == 0);
}

// The socket takes none: its far end is gone, whether the file is removed or left behind.
BOOST_AUTO_TEST_CASE(likely_cause_when_the_socket_takes_none) {
  for (bool leave_the_file : {false, true}) {
    Listener listener;
    AgentConnection connection(listener.path, 2s);
    listener.accept_one().reset();
    std::optional<AgentConnectionLost> lost;
    try {
      connection.call(request());
    } catch (const AgentConnectionLost& e) {
      lost = e;
    }
    BOOST_REQUIRE(lost);
    if (leave_the_file) {
      listener.fd.reset();  // ECONNREFUSED
    } else {
      listener.go_away();  // ENOENT
    }
    Error explained = with_likely_cause(*lost);
    BOOST_TEST(explained.rv() == CKR_DEVICE_REMOVED);
    BOOST_TEST(explained.what() == closed_text(listener.path) + ", and " + listener.path.string() + kGone);
  }
}

// A listener whose backlog is full (an agent that is stopped) makes a connect wait; the
// connection's timeout ends that wait.
BOOST_AUTO_TEST_CASE(connect_to_a_full_backlog_times_out) {
  Listener listener(0);
  std::vector<std::unique_ptr<AgentConnection>> waiting;
  for (int i = 0; i < 64; ++i) {
    auto start = Clock::now();
    try {
      waiting.push_back(std::make_unique<AgentConnection>(listener.path, 300ms));
    } catch (const Error& e) {
      long took = elapsed_ms(start);
      BOOST_TEST(e.rv() == CKR_DEVICE_REMOVED);
      BOOST_TEST(e.what() == "brokerkey-agent: cannot connect to " + listener.path.string() +
                                 ": timed out, the agent takes no connection (stopped, or swamped)");
      BOOST_TEST(took >= 250);
      BOOST_TEST(took < 5000);
      BOOST_TEST(!waiting.empty(), "the backlog took no connection at all");
      return;
    }
  }
  BOOST_FAIL("64 connections went into a backlog of 0 without a wait");
}
