// brokerkey-agent under load and under fault (issue 9, item 8): the built agent on a real
// SoftHSM broker, clients written on agent/wire.h and agent/protocol.h.
//  - many concurrent clients sign while another process rotates the key, twice: every
//    signature verifies with the key it was asked with, a key the ledger names current at
//    that moment; the only refusal is a clean SSH_AGENT_FAILURE for a key just rotated out; the
//    signing log's chain verifies and holds exactly one ok record per signature;
//  - the agent killed with SIGKILL under load and restarted, five times: every signature a
//    client received has its ok record, the chain verifies, clients see a clean error while it
//    is down and sign again after the restart;
//  - hostile clients (garbage, a frame over 256 KiB, a stall mid-frame, an idle connection,
//    a disconnect mid-request, unsupported message types) are cut off or refused without
//    delaying a client signing beside them;
//  - requests sent ahead of their answers (frames together, split, larger than one read) are
//    each answered in order with their own signature;
//  - more than --max-connections connections: the new one is closed, the others keep working.
#define BOOST_TEST_MODULE agent_load
#include <sys/socket.h>

#include <atomic>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "agent_client.h"
#include "core/chained_log.h"
#include "core/config.h"
#include "core/ed25519.h"
#include "core/ledger.h"
#include "core/agent_protocol.h"
#include "temp_broker.h"
#include "core/agent_wire.h"

using namespace brokerkey;
using namespace std::chrono_literals;
using brokerkey::agent::WireWriter;
using Clock = std::chrono::steady_clock;

namespace {

// A broker whose consumer "ci" is this process's uid (root in CI, or whoever runs the test),
// allowed git SSHSIG and raw data at a rate no test reaches, and the agent's paths.
struct AgentBroker {
  TempBroker broker;
  Config config;
  fs::path socket;
  fs::path agent_log;

  AgentBroker() {
    broker.keytool("consumer set ci --uid " + std::to_string(::getuid()) +
                   " --allow sshsig:git,raw --rate 1000000/1s");
    config = load_config(broker.conf());
    fs::create_directory(broker.dir() / "run");
    fs::permissions(broker.dir() / "run", fs::perms::owner_all);
    socket = broker.dir() / "run" / "agent.sock";
    agent_log = broker.dir() / "agent.log";
  }

  AgentProcess agent(std::vector<std::string> extra = {}) const {
    return AgentProcess(broker.conf(), socket, agent_log, std::move(extra));
  }

  // The current key's blob, as the agent lists it.
  Bytes listed_key() const {
    AgentClient client(socket);
    AgentClient::Identities ids = client.identities();
    BOOST_REQUIRE_MESSAGE(ids.ok && ids.keys.size() == 1, "identities: " << ids.problem << ", "
                                                                         << ids.keys.size() << " keys");
    return ids.keys[0];
  }

  // Both chains verify, by the library and by `brokerkey audit verify` as an operator runs it.
  std::vector<boost::json::object> verified_signing_log() const {
    std::vector<std::string> lines = ChainedLog(config.signing_log).read_lines();
    auto fault = verify_chain(lines);
    BOOST_CHECK_MESSAGE(!fault, "signing log: line " << (fault ? fault->line : 0) << ": "
                                                     << (fault ? fault->problem : ""));
    CommandResult audit = run_command(std::string(BROKERKEY_TOOL) + " audit verify");
    BOOST_CHECK_MESSAGE(audit.status == 0, "brokerkey audit verify: " << audit.output);
    std::vector<boost::json::object> records;
    for (const std::string& line : lines) records.push_back(parse_record(line));
    return records;
  }
};

std::string text_of(const boost::json::object& record, std::string_view key) {
  const boost::json::value* value = record.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// The ok records of the signing log, by message_sha256.
std::map<std::string, std::vector<boost::json::object>> ok_records(const std::vector<boost::json::object>& log) {
  std::map<std::string, std::vector<boost::json::object>> out;
  for (const auto& record : log) {
    if (text_of(record, "result") == "ok") out[text_of(record, "message_sha256")].push_back(record);
  }
  return out;
}

const KeyRecord* key_by_blob(const LedgerState& state, const Bytes& blob) {
  for (const KeyRecord& key : state.keys) {
    if (ssh_wire_blob(key.public_key) == blob) return &key;
  }
  return nullptr;
}

// The ledger's times are whole seconds: a moment is widened by one second each way.
TimePoint floor_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t);
}

struct Received {
  Bytes key_blob;
  Bytes data;
  Bytes signature;
  std::chrono::system_clock::time_point sent, answered;
};

// Joins the threads however the test case ends, so a failed requirement does not terminate.
struct Joiner {
  std::atomic<bool>& stop;
  std::vector<std::thread>& threads;
  ~Joiner() {
    stop = true;
    for (auto& thread : threads) {
      if (thread.joinable()) thread.join();
    }
  }
};

// Waits until `counter` reaches `target` (at most `limit`).
bool wait_for(const std::atomic<int>& counter, int target, std::chrono::seconds limit = 30s) {
  auto deadline = Clock::now() + limit;
  while (counter < target) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_clients_while_the_ledger_rotates) {
  constexpr int kClients = 16, kEach = 50;
  AgentBroker setup;
  AgentProcess agent = setup.agent();
  agent.start();

  std::mutex mutex;
  std::vector<Received> received;
  struct Refusal {
    Bytes key_blob;
    std::chrono::system_clock::time_point answered;
  };
  std::vector<Refusal> refusals;
  std::vector<std::string> unexpected;
  std::atomic<int> signatures{0};
  std::atomic<bool> rotations_done{false}, stop{false};

  auto client = [&](int id) {
    auto problem = [&](const std::string& what) {
      std::lock_guard lock(mutex);
      unexpected.push_back("client " + std::to_string(id) + ": " + what);
    };
    AgentClient agent_client(setup.socket);
    AgentClient::Identities ids = agent_client.identities();
    if (!ids.ok || ids.keys.size() != 1) return problem("identities: " + ids.problem);
    Bytes key = ids.keys[0];
    int mine = 0, after_rotations = 0;
    while (!stop && (mine < kEach || !rotations_done || after_rotations < 5)) {
      Bytes data = sshsig_signed_data("git", "client " + std::to_string(id) + " message " + std::to_string(mine) +
                                                 " after " + std::to_string(after_rotations));
      bool done_before = rotations_done;
      auto sent = std::chrono::system_clock::now();
      AgentClient::Signed result = agent_client.sign(key, data);
      auto answered = std::chrono::system_clock::now();
      if (result.kind == AgentClient::Signed::Kind::signature) {
        ++mine;
        after_rotations += done_before;
        ++signatures;
        std::lock_guard lock(mutex);
        received.push_back({key, data, result.signature, sent, answered});
      } else if (result.kind == AgentClient::Signed::Kind::failure) {
        {
          std::lock_guard lock(mutex);
          refusals.push_back({key, answered});
        }
        // As a client does: list the identities again and sign with what is listed now.
        ids = agent_client.identities();
        if (!ids.ok || ids.keys.size() != 1) {
          return problem("identities after a refusal: " + (ids.ok ? std::to_string(ids.keys.size()) + " keys" : ids.problem));
        }
        if (ids.keys[0] == key) return problem("refused, yet the agent still lists the key it refused");
        key = ids.keys[0];
      } else {
        return problem(result.kind == AgentClient::Signed::Kind::connection ? "connection lost"
                                                                       : "malformed answer: " + result.problem);
      }
    }
  };

  std::vector<std::thread> threads;
  Joiner joiner{stop, threads};
  for (int i = 0; i < kClients; ++i) threads.emplace_back(client, i);

  // Rotate while they sign, twice (the first overlap key retired before the second rotation):
  // three keys sign in turn, each rotation racing sixteen clients.
  BOOST_REQUIRE(wait_for(signatures, 150));
  std::string first = setup.broker.fingerprint();
  setup.broker.keytool("rotate --overlap 1d");
  BOOST_REQUIRE(wait_for(signatures, signatures + 150));
  setup.broker.keytool("retire " + first);
  setup.broker.keytool("rotate --overlap 1d");
  rotations_done = true;
  for (auto& thread : threads) thread.join();

  for (const std::string& problem : unexpected) BOOST_ERROR(problem);
  BOOST_REQUIRE_MESSAGE(unexpected.empty(), "agent log: " << agent.log_text());
  BOOST_TEST(received.size() >= std::size_t{kClients * kEach});

  LedgerState state = Ledger(setup.config.ledger).state();
  BOOST_REQUIRE_EQUAL(state.keys.size(), 3u);
  std::map<std::string, int> by_key;
  for (const Received& r : received) {
    const KeyRecord* key = key_by_blob(state, r.key_blob);
    BOOST_REQUIRE_MESSAGE(key, "a signature with a key the ledger does not know");
    BOOST_CHECK_MESSAGE(ed25519_verify(key->public_key, r.data, r.signature),
                        "a signature that does not verify with " << key->fingerprint.hex());
    // Current at some moment while the request was in flight (the ledger's second included).
    auto window = signing_window(*key);
    BOOST_REQUIRE(window);
    TimePoint from = floor_seconds(r.sent) - 1s, until = floor_seconds(r.answered) + 1s;
    BOOST_CHECK_MESSAGE(window->from <= until && (!window->until || *window->until > from),
                        "signed with " << key->fingerprint.hex() << " outside its signing window");
    ++by_key[key->fingerprint.hex()];
  }
  BOOST_TEST_MESSAGE(received.size() << " signatures (" << by_key.size() << " keys), " << refusals.size()
                                      << " refusals of a key rotated out");
  for (const KeyRecord& key : state.keys) {
    BOOST_CHECK_MESSAGE(by_key[key.fingerprint.hex()] > 0, "key " << key.fingerprint.hex() << " signed nothing");
  }
  // A refusal only for a key rotated out by then, and at most once per client and rotation.
  BOOST_TEST(refusals.size() <= std::size_t{kClients * 2});
  for (const Refusal& refusal : refusals) {
    const KeyRecord* key = key_by_blob(state, refusal.key_blob);
    BOOST_REQUIRE(key);
    BOOST_CHECK_MESSAGE(key->superseded_at && *key->superseded_at <= floor_seconds(refusal.answered) + 1s,
                        "refused " << key->fingerprint.hex() << " while it was current");
  }

  BOOST_CHECK_EQUAL(agent.stop(), 0);
  std::vector<boost::json::object> log = setup.verified_signing_log();
  auto ok = ok_records(log);
  std::size_t ok_count = 0, refused_count = 0;
  for (const auto& [hash, records] : ok) ok_count += records.size();
  for (const auto& record : log) refused_count += text_of(record, "result").starts_with("refused: the key is");
  BOOST_CHECK_EQUAL(ok_count, received.size());
  BOOST_CHECK_EQUAL(refused_count, refusals.size());
  for (const Received& r : received) {
    auto found = ok.find(hex_encode(sha256(r.data)));
    BOOST_REQUIRE_MESSAGE(found != ok.end() && found->second.size() == 1,
                          "not exactly one ok record for a signature a client received");
    const auto& record = found->second[0];
    BOOST_CHECK_EQUAL(text_of(record, "consumer"), "ci");
    BOOST_CHECK_EQUAL(text_of(record, "purpose"), "sshsig");
    BOOST_CHECK_EQUAL(text_of(record, "namespace"), "git");
    BOOST_CHECK_EQUAL(text_of(record, "fingerprint"), key_by_blob(state, r.key_blob)->fingerprint.hex());
    BOOST_CHECK(record.at("uid").to_number<std::int64_t>() == ::getuid());
    BOOST_CHECK(record.at("pid").to_number<std::int64_t>() == ::getpid());
  }
}

BOOST_AUTO_TEST_CASE(sigkill_under_load_loses_no_record) {
  constexpr int kClients = 4, kKills = 5;
  AgentBroker setup;
  AgentProcess agent = setup.agent();
  agent.start();
  Bytes key = setup.listed_key();

  std::mutex mutex;
  std::vector<Received> received;
  std::vector<std::string> unexpected;
  std::atomic<int> signatures{0}, clean_errors{0};
  std::atomic<bool> stop{false};
  auto client = [&](int id) {
    std::optional<AgentClient> connection;
    for (int i = 0; !stop; ++i) {
      if (!connection || !connection->connected()) {
        connection.emplace(setup.socket);
        if (!connection->connected()) {
          int error = connection->error();
          if (error != ECONNREFUSED && error != ENOENT) {
            std::lock_guard lock(mutex);
            unexpected.push_back("connect: " + std::string(std::strerror(error)));
          }
          ++clean_errors;
          std::this_thread::sleep_for(10ms);
          continue;
        }
      }
      Bytes data = sshsig_signed_data("git", "client " + std::to_string(id) + " message " + std::to_string(i));
      auto sent = std::chrono::system_clock::now();
      AgentClient::Signed result = connection->sign(key, data);
      if (result.kind == AgentClient::Signed::Kind::signature) {
        ++signatures;
        std::lock_guard lock(mutex);
        received.push_back({key, data, result.signature, sent, std::chrono::system_clock::now()});
      } else if (result.kind == AgentClient::Signed::Kind::connection) {
        ++clean_errors;  // the agent died under this request: no answer at all
        connection.reset();
      } else {
        std::lock_guard lock(mutex);
        unexpected.push_back(result.kind == AgentClient::Signed::Kind::failure ? "SSH_AGENT_FAILURE"
                                                                         : "malformed answer: " + result.problem);
        connection.reset();
      }
    }
  };
  std::vector<std::thread> threads;
  Joiner joiner{stop, threads};
  for (int i = 0; i < kClients; ++i) threads.emplace_back(client, i);

  std::random_device seed_source;
  unsigned seed = seed_source();
  BOOST_TEST_MESSAGE("kill moments from seed " << seed);
  std::mt19937 random(seed);
  for (int kill = 0; kill < kKills; ++kill) {
    BOOST_REQUIRE_MESSAGE(wait_for(signatures, signatures + 20), "clients do not sign after (re)start");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution(0, 400)(random)));
    agent.kill_now();
    int errors_before = clean_errors;
    BOOST_REQUIRE(wait_for(clean_errors, errors_before + kClients, 10s));
    std::this_thread::sleep_for(100ms);
    agent.start();
  }
  BOOST_REQUIRE(wait_for(signatures, signatures + 20));
  stop = true;
  for (auto& thread : threads) thread.join();
  BOOST_CHECK_EQUAL(agent.stop(), 0);

  for (const std::string& problem : unexpected) BOOST_ERROR(problem);
  LedgerState state = Ledger(setup.config.ledger).state();
  const KeyRecord* signer = key_by_blob(state, key);
  BOOST_REQUIRE(signer);
  auto ok = ok_records(setup.verified_signing_log());
  std::size_t missing = 0;
  for (const Received& r : received) {
    BOOST_CHECK(ed25519_verify(signer->public_key, r.data, r.signature));
    auto found = ok.find(hex_encode(sha256(r.data)));
    missing += found == ok.end() || found->second.size() != 1;
  }
  BOOST_CHECK_MESSAGE(missing == 0, missing << " of " << received.size()
                                            << " signatures received have not exactly one ok record");
  BOOST_TEST_MESSAGE(received.size() << " signatures, " << clean_errors << " clean errors, " << kKills << " kills");
}

namespace {

Bytes frame_header(std::uint32_t length) { return WireWriter().u32(length).take(); }

Bytes sign_request(const Bytes& key, const Bytes& data) {
  return WireWriter().byte(agent::SSH_AGENTC_SIGN_REQUEST).string(key).string(data).u32(0).take();
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_clients_do_not_disturb_others) {
  // Frames must arrive whole within 3 s, requests start within 5 s: a server that let one
  // connection hold the others would delay the signing client by that much.
  AgentBroker setup;
  AgentProcess agent = setup.agent({"--frame-timeout", "3", "--idle-timeout", "5"});
  agent.start();
  Bytes key = setup.listed_key();

  std::atomic<bool> stop{false};
  std::atomic<int> signatures{0};
  std::mutex mutex;
  std::vector<std::string> unexpected;
  Clock::duration slowest{};
  std::vector<std::thread> threads;
  Joiner joiner{stop, threads};
  threads.emplace_back([&] {
    AgentClient client(setup.socket);
    for (int i = 0; !stop; ++i) {
      auto start = Clock::now();
      AgentClient::Signed result = client.sign(key, sshsig_signed_data("git", "steady " + std::to_string(i)));
      auto took = Clock::now() - start;
      std::lock_guard lock(mutex);
      if (result.kind != AgentClient::Signed::Kind::signature) {
        unexpected.push_back("the signing client got no signature: " + result.problem);
        return;
      }
      ++signatures;
      slowest = std::max(slowest, took);
    }
  });
  BOOST_REQUIRE(wait_for(signatures, 5));

  // A stall mid-frame and an idle connection, both timed while the rest goes on.
  auto closed_after = [&](Bytes first_bytes) {
    return std::async(std::launch::async, [&setup, first_bytes] {
      AgentClient client(setup.socket);
      auto start = Clock::now();
      if (!client.send_raw(first_bytes) || !client.wait_closed(20s)) return Clock::duration::max();
      return Clock::now() - start;
    });
  };
  Bytes stalled = frame_header(100);
  stalled.resize(14, agent::SSH_AGENTC_SIGN_REQUEST);
  auto stall = closed_after(stalled);
  auto idle = closed_after({});

  {  // a frame of length 0: cut off
    AgentClient client(setup.socket);
    BOOST_CHECK(client.send_raw(frame_header(0)));
    BOOST_CHECK(client.wait_closed(2s));
  }
  {  // a header announcing 300 KiB: cut off at once, long before the frame timeout
    AgentClient client(setup.socket);
    auto start = Clock::now();
    Bytes bytes = frame_header(300 * 1024);
    bytes.resize(bytes.size() + 4096, 'x');
    client.send_raw(bytes);  // may already fail: the agent closes after the header
    BOOST_CHECK(client.wait_closed(2s));
    BOOST_CHECK(Clock::now() - start < 2s);
  }
  {  // one byte over the largest frame: cut off; the largest frame itself: answered
    AgentClient over(setup.socket);
    over.send_raw(frame_header(agent::kMaxFrameLength + 1));
    BOOST_CHECK(over.wait_closed(2s));
    AgentClient largest(setup.socket);
    Bytes data(agent::kMaxFrameLength - (1 + 4 + key.size() + 4 + 4), 0x5a);
    Bytes request = sign_request(key, data);
    BOOST_REQUIRE_EQUAL(request.size(), agent::kMaxFrameLength);
    std::optional<Bytes> answer = largest.call(request);
    BOOST_REQUIRE(answer);
    BOOST_CHECK_EQUAL(int{(*answer)[0]}, int{agent::SSH_AGENT_SIGN_RESPONSE});  // raw is granted
  }
  {  // garbage inside a well-framed message: SSH_AGENT_FAILURE, and the connection still serves
    AgentClient client(setup.socket);
    std::mt19937 random(9);
    for (int i = 0; i < 50; ++i) {
      Bytes garbage(1 + random() % 200);
      for (auto& b : garbage) b = static_cast<std::uint8_t>(random());
      garbage[0] = i % 2 ? agent::SSH_AGENTC_SIGN_REQUEST : agent::SSH_AGENTC_EXTENSION;
      std::optional<Bytes> answer = client.call(garbage);
      BOOST_REQUIRE(answer);
      BOOST_CHECK(*answer == agent::failure_message());
    }
    // Trailing bytes after a whole request are refused too.
    Bytes trailing = sign_request(key, sshsig_signed_data("git", "x"));
    trailing.push_back(0);
    BOOST_CHECK(client.call(trailing) == agent::failure_message());
    BOOST_CHECK(client.identities().ok);
  }
  {  // garbage as frames: whatever the lengths say, an answer or a close, never a hang
    AgentClient client(setup.socket);
    std::mt19937 random(11);
    Bytes garbage(64);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(random());
    client.send_raw(garbage);
    BOOST_CHECK(client.wait_closed(5s));
  }
  // Every message type brokerkey-agent does not offer: add, remove, remove all, smartcard
  // keys, lock, unlock, constrained adds, and types no RFC defines. One plain failure each;
  // the connection stays usable.
  {
    AgentClient client(setup.socket);
    for (int number : {17, 18, 19, 20, 21, 22, 23, 25, 26, 0, 1, 9, 30, 99, 255}) {
      auto type = static_cast<std::uint8_t>(number);
      // The adds carry a key type as OpenSSH sends it; the rest, nothing.
      Bytes message = type == 17 || type == 25
                          ? WireWriter().byte(type).string(std::string_view("ssh-ed25519")).take()
                          : Bytes{type};
      std::optional<Bytes> answer = client.call(message);
      BOOST_REQUIRE_MESSAGE(answer, "no answer to message type " << int{type});
      BOOST_CHECK_MESSAGE(*answer == agent::failure_message(), "message type " << int{type});
    }
    Bytes unknown_extension = WireWriter()
                                  .byte(agent::SSH_AGENTC_EXTENSION)
                                  .string(std::string_view("session-bind@openssh.com"))
                                  .take();
    BOOST_CHECK(client.call(unknown_extension) == agent::failure_message());
    BOOST_CHECK(client.identities().ok);
  }
  {  // disconnects mid-request: half a frame, then a whole request whose answer nobody reads
    for (int i = 0; i < 20; ++i) {
      AgentClient half(setup.socket);
      Bytes request = agent::framed(sign_request(key, sshsig_signed_data("git", "half " + std::to_string(i))));
      request.resize(request.size() / 2);
      half.send_raw(request);
      AgentClient gone(setup.socket);
      gone.send_raw(agent::framed(sign_request(key, sshsig_signed_data("git", "gone " + std::to_string(i)))));
    }
  }

  auto stall_closed = stall.get();
  auto idle_closed = idle.get();
  BOOST_CHECK_MESSAGE(stall_closed >= 2500ms && stall_closed <= 8s,
                      "a stall mid-frame was cut off after "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(stall_closed).count() << " ms");
  BOOST_CHECK_MESSAGE(idle_closed >= 4500ms && idle_closed <= 10s,
                      "an idle connection was cut off after "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(idle_closed).count() << " ms");

  int before = signatures;
  BOOST_REQUIRE(wait_for(signatures, before + 5));
  stop = true;
  for (auto& thread : threads) thread.join();
  for (const std::string& problem : unexpected) BOOST_ERROR(problem);
  BOOST_TEST_MESSAGE(signatures << " signatures beside the hostile clients, slowest "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms");
  BOOST_CHECK_MESSAGE(slowest < 1500ms, "the signing client waited "
                                            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
                                            << " ms for one signature");
  BOOST_CHECK(agent.running());
  BOOST_CHECK_EQUAL(agent.stop(), 0);
  // The agent says why it cut each one off.
  std::string said = agent.log_text();
  for (std::string line : {"frame of 0 bytes", "frame of 307200 bytes", "frame of 262145 bytes",
                           "frame incomplete in time", "malformed request", "refused message type 19"}) {
    BOOST_CHECK_MESSAGE(said.find(line) != std::string::npos, "the agent's log lacks '" << line << "': " << said);
  }
  setup.verified_signing_log();
}

// A client may send its next requests before the answers (several frames in one write, a frame
// split across writes, a frame larger than one read): each is answered, in order, and a frame
// that follows another in the same read is not lost (agent/server.cpp reads into a buffer).
BOOST_AUTO_TEST_CASE(requests_sent_ahead_are_answered_in_order) {
  AgentBroker setup;
  AgentProcess agent = setup.agent();
  agent.start();
  Bytes key = setup.listed_key();
  LedgerState state = Ledger(setup.config.ledger).state();
  const KeyRecord* current = state.current(now());
  BOOST_REQUIRE(current);

  std::vector<Bytes> data;
  for (std::size_t size : {std::size_t{200}, std::size_t{100 * 1024}, std::size_t{300}, std::size_t{40 * 1024}}) {
    data.push_back(sshsig_signed_data("git", std::string(size, static_cast<char>('a' + size % 26))));
  }
  Bytes stream = agent::framed(Bytes{agent::SSH_AGENTC_REQUEST_IDENTITIES});
  for (const Bytes& d : data) {
    Bytes frame = agent::framed(agent::sign_request_message(key, d));
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  AgentClient client(setup.socket);
  // All but the last 7 bytes at once, then those one by one.
  std::size_t head = stream.size() - 7;
  BOOST_REQUIRE(client.send_raw(ByteView(stream.data(), head)));
  for (std::size_t i = head; i < stream.size(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_REQUIRE(client.send_raw(ByteView(stream.data() + i, 1)));
  }
  Bytes body;
  BOOST_REQUIRE(client.read_frame(body) == AgentClient::Read::frame);
  BOOST_REQUIRE(!body.empty());
  BOOST_CHECK_EQUAL(int{body[0]}, int{agent::SSH_AGENT_IDENTITIES_ANSWER});
  for (const Bytes& d : data) {
    BOOST_REQUIRE(client.read_frame(body) == AgentClient::Read::frame);
    std::optional<Bytes> signature = agent::parse_ed25519_sign_response(body);
    BOOST_REQUIRE_MESSAGE(signature, "no signature for the request of " << d.size() << " bytes");
    BOOST_CHECK_MESSAGE(ed25519_verify(current->public_key, d, *signature),
                        "the answer to the request of " << d.size() << " bytes is not its signature");
  }
  // The connection still serves one request at a time.
  AgentClient::Signed again = client.sign(key, data[0]);
  BOOST_CHECK(again.kind == AgentClient::Signed::Kind::signature);
  BOOST_CHECK_EQUAL(agent.stop(), 0);
  auto ok = ok_records(setup.verified_signing_log());
  BOOST_CHECK_EQUAL(ok.size(), data.size());  // by message: data[0] twice
  for (const Bytes& d : data) {
    BOOST_CHECK_EQUAL(ok[hex_encode(sha256(d))].size(), &d == &data[0] ? 2u : 1u);
  }
}

BOOST_AUTO_TEST_CASE(connections_beyond_the_limit_are_closed_others_keep_working) {
  constexpr int kLimit = 4;
  AgentBroker setup;
  AgentProcess agent = setup.agent({"--max-connections", std::to_string(kLimit), "--idle-timeout", "30"});
  agent.start();
  std::vector<AgentClient> open;
  // Each one answered, so the agent counts it. start()'s own probe may still hold a slot for
  // a moment, so a refused one is tried again.
  auto served_connection = [&] {
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline; std::this_thread::sleep_for(20ms)) {
      AgentClient client(setup.socket);
      if (client.identities().ok) return client;
    }
    BOOST_FAIL("no connection is served");
    return AgentClient(setup.socket);
  };
  for (int i = 0; i < kLimit; ++i) open.push_back(served_connection());
  AgentClient extra(setup.socket);
  BOOST_REQUIRE(extra.connected());  // the kernel accepts; the agent closes it unanswered
  BOOST_CHECK(!extra.identities().ok);
  Bytes key = open[0].identities().keys.at(0);
  for (AgentClient& client : open) {
    BOOST_CHECK(client.sign(key, sshsig_signed_data("git", "still served")).kind == AgentClient::Signed::Kind::signature);
  }
  // One leaves: a new connection is served again (its slot comes back when its thread ends).
  open.pop_back();
  open.push_back(served_connection());
  BOOST_CHECK(open.back().sign(key, sshsig_signed_data("git", "new")).kind == AgentClient::Signed::Kind::signature);
  BOOST_CHECK(agent.log_text().find("connection refused: " + std::to_string(kLimit) + " connections open") !=
              std::string::npos);
  open.clear();
  BOOST_CHECK_EQUAL(agent.stop(), 0);
}
