// The agent's decisions, request by request, over a real broker on a real SoftHSM token:
// AgentService without sockets (the sockets are agent_test.sh's and agent_load_test's).
#define BOOST_TEST_MODULE agent_service
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "core/config.h"
#include "core/broker_view.h"
#include "core/error.h"
#include "core/pkcs11_backend.h"
#include "core/sshsig.h"
#include "service.h"
#include "temp_broker.h"

using namespace brokerkey;
using namespace brokerkey::agent;

namespace {

Bytes as_bytes_vector(std::string_view text) { return Bytes(text.begin(), text.end()); }

Peer self() { return Peer{::getpid(), ::getuid(), ::getgid(), {}, "test"}; }

struct AgentFixture {
  TempBroker broker{TempBroker::With::key};
  Config config = load_config(broker.conf());
  Pkcs11Backend backend{config.backend};
  SigningLogWriter log{config.signing_log};
  AgentService service{config, backend, &log};

  std::string pin;  // consumer "me"'s, as consumer add printed it

  AgentFixture() {
    std::string added = broker.keytool("consumer add me --uid " + std::to_string(::getuid()) + " --rate 1000/1s");
    std::size_t start = added.find("\n\n  ") + 4;
    pin = added.substr(start, added.find('\n', start) - start);
  }

  Bytes current_blob() {
    Bytes answer = service.handle(RequestIdentities{}, self());
    WireReader in(answer);
    BOOST_REQUIRE(in.byte() == SSH_AGENT_IDENTITIES_ANSWER);
    BOOST_REQUIRE(in.u32() == 1u);
    ByteView blob = in.string();
    BOOST_TEST(in.text() == "acme-git-signing-ed25519-prod");
    return Bytes(blob.begin(), blob.end());
  }
  Bytes sign(const Bytes& blob, const Bytes& data, std::uint32_t flags = 0) {
    return service.handle(SignRequest{blob, data, flags}, self());
  }
  std::vector<boost::json::object> log_records() {
    std::vector<boost::json::object> out;
    for (const auto& line : ChainedLog(config.signing_log).read_lines()) out.push_back(parse_record(line));
    return out;
  }
  std::string last_result() { return std::string(log_records().back().at("result").as_string()); }
  boost::json::object extension(std::string_view name) {
    Bytes answer = service.handle(ExtensionRequest{std::string(name), {}}, self());
    WireReader in(answer);
    BOOST_REQUIRE(in.byte() == SSH_AGENT_EXTENSION_RESPONSE);
    BOOST_TEST(in.text() == name);
    std::string_view text = in.text();
    return boost::json::parse(text).as_object();
  }
};

PublicKey key_of(ByteView blob) {
  WireReader in(blob);
  BOOST_REQUIRE(in.text() == "ssh-ed25519");
  ByteView raw = in.string();
  BOOST_REQUIRE(raw.size() == 32u);
  PublicKey key;
  std::copy(raw.begin(), raw.end(), key.raw.begin());
  return key;
}

// The signature of a SIGN_RESPONSE, or empty for any other answer.
Bytes signature_of(const Bytes& answer) {
  WireReader in(answer);
  if (in.byte() != SSH_AGENT_SIGN_RESPONSE) return {};
  WireReader blob(in.string());
  BOOST_TEST(blob.text() == "ssh-ed25519");
  ByteView signature = blob.string();
  return Bytes(signature.begin(), signature.end());
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(signs_git_sshsig_and_records_it, AgentFixture) {
  Bytes blob = current_blob();
  Bytes data = sshsig_signed_data("git", as_bytes("commit"));
  Bytes signature = signature_of(sign(blob, data));
  BOOST_REQUIRE(signature.size() == 64u);
  BOOST_TEST(ed25519_verify(key_of(blob), data, signature));
  auto record = log_records().back();
  BOOST_TEST(record.at("consumer").as_string() == "me");
  BOOST_TEST(record.at("purpose").as_string() == "sshsig");
  BOOST_TEST(record.at("namespace").as_string() == "git");
  BOOST_TEST(record.at("message_sha256").as_string() == hex_encode(sha256(data)));
  BOOST_TEST(record.at("fingerprint").as_string() == broker.fingerprint());
  BOOST_TEST(record.at("result").as_string() == "ok");
  BOOST_TEST(record.at("pid").as_int64() == ::getpid());
}

BOOST_FIXTURE_TEST_CASE(refusals_are_plain_failures_and_recorded, AgentFixture) {
  Bytes blob = current_blob();
  BOOST_TEST(sign(blob, as_bytes_vector("raw data")) == failure_message());
  BOOST_TEST(last_result() == "refused: purpose raw not granted");
  BOOST_TEST(sign(blob, sshsig_signed_data("file", as_bytes("x"))) == failure_message());
  BOOST_TEST(last_result() == "refused: purpose sshsig:file not granted");
  BOOST_TEST(sign(blob, sshsig_signed_data("git", as_bytes("x")), 0x08) == failure_message());
  BOOST_TEST(last_result() == "refused: unknown signature flags 8");
  // RSA's SHA-2 flags mean nothing for Ed25519 and are accepted (OpenSSH sends them).
  BOOST_TEST(signature_of(sign(blob, sshsig_signed_data("git", as_bytes("x")), SSH_AGENT_RSA_SHA2_512)).size() == 64u);
  std::size_t records = log_records().size();
  Bytes stranger = blob;
  stranger.back() ^= 1;
  BOOST_TEST(sign(stranger, sshsig_signed_data("git", as_bytes("x"))) == failure_message());
  BOOST_TEST(log_records().size() == records);  // not the broker's key at all: nothing to audit
  for (std::uint8_t type : {std::uint8_t{17}, std::uint8_t{19}, std::uint8_t{22}, std::uint8_t{20}}) {
    BOOST_TEST(service.handle(UnsupportedRequest{type}, self()) == failure_message());
  }
}

BOOST_FIXTURE_TEST_CASE(a_peer_no_consumer_names_gets_nothing, AgentFixture) {
  Peer stranger{1, 4242, 4242, {}, ""};
  BOOST_TEST(!service.identify_peer(stranger).consumer);
  BOOST_TEST(service.handle(RequestIdentities{}, stranger) == failure_message());
  BOOST_TEST(service.handle(SignRequest{current_blob(), sshsig_signed_data("git", as_bytes("x")), 0}, stranger) ==
             failure_message());
  BOOST_TEST(service.handle(ExtensionRequest{"query", {}}, stranger) == failure_message());
}

BOOST_FIXTURE_TEST_CASE(rotation_and_revocation_followed_at_the_next_request, AgentFixture) {
  Bytes old_blob = current_blob();
  broker.keytool("rotate");
  Bytes new_blob = current_blob();
  BOOST_TEST(new_blob != old_blob);
  Bytes data = sshsig_signed_data("git", as_bytes("after"));
  BOOST_TEST(sign(old_blob, data) == failure_message());
  BOOST_TEST(last_result() == "refused: the key is overlap, not current");
  BOOST_TEST(ed25519_verify(key_of(new_blob), data, signature_of(sign(new_blob, data))));
  BrokerView view = parse_broker_view(boost::json::serialize(extension(kViewExtension)));
  BOOST_TEST(view.ledger.keys.size() == 2u);
  BOOST_REQUIRE(view.overlap_key());
  BOOST_TEST(ssh_wire_blob(view.overlap_key()->public_key) == old_blob);
  BOOST_TEST(view.overlap_key()->superseded_at.has_value());
  BOOST_TEST(ssh_wire_blob(view.current_key()->public_key) == new_blob);
  broker.keytool("revoke " + broker.fingerprint() + " --reason test");
  Bytes answer = service.handle(RequestIdentities{}, self());
  BOOST_TEST(answer == identities_answer({}));
  BOOST_TEST(sign(new_blob, data) == failure_message());
  BOOST_TEST(last_result() == "refused: the key is revoked, not current");
}

BOOST_FIXTURE_TEST_CASE(extensions, AgentFixture) {
  Bytes answer = service.handle(ExtensionRequest{"query", {}}, self());
  WireReader in(answer);
  BOOST_TEST(in.byte() == SSH_AGENT_EXTENSION_RESPONSE);
  BOOST_TEST(in.text() == "query");
  std::vector<std::string> names;
  while (!in.empty()) names.emplace_back(in.text());
  BOOST_TEST((names == std::vector<std::string>{"query", "view@brokerkey.org", "health@brokerkey.org",
                                                "login@brokerkey.org"}));

  BrokerView view = parse_broker_view(boost::json::serialize(extension(kViewExtension)));
  BOOST_REQUIRE(view.current_key());
  BOOST_TEST(view.current_key()->fingerprint.hex() == broker.fingerprint());
  BOOST_TEST(view.current_key()->label == "acme-git-signing-ed25519-prod");
  BOOST_TEST(!view.overlap);
  Ledger ledger(config.ledger);
  BOOST_TEST(view.ledger.head_hash == ledger.state().head_hash);
  BOOST_TEST(view.ledger.records == ledger.state().records);
  BOOST_TEST(view.ledger.consumers.empty());  // who else signs is not a client's business

  auto health = extension(kHealthExtension);
  BOOST_TEST(health.at("status").as_string() == "ok");
  BOOST_TEST(health.at("consumer").as_object().at("name").as_string() == "me");
  BOOST_TEST(health.at("current").as_object().at("fingerprint").as_string() == broker.fingerprint());

  BOOST_TEST(service.handle(ExtensionRequest{"session-bind@openssh.com", {1, 2}}, self()) == failure_message());
  BOOST_TEST(service.handle(ExtensionRequest{std::string(kViewExtension), {1}}, self()) ==
             extension_failure_message());
}

// view@brokerkey.org with the tag of the view a client holds: "unchanged" (an empty string)
// exactly while the agent's view is still that one. A rotation, a revocation or any other
// ledger change gives a full answer with a new tag at the next request; a time changes nothing.
BOOST_FIXTURE_TEST_CASE(a_view_named_by_its_tag_is_answered_unchanged_until_it_changes, AgentFixture) {
  auto ask = [&](std::string_view tag) -> std::optional<std::string> {
    WireWriter contents;
    contents.string(tag);
    Bytes answer = service.handle(ExtensionRequest{std::string(kViewExtension), contents.take()}, self());
    if (answer == extension_failure_message()) return std::nullopt;
    WireReader in(answer);
    BOOST_REQUIRE(in.byte() == SSH_AGENT_EXTENSION_RESPONSE);
    BOOST_REQUIRE(in.text() == kViewExtension);
    std::string text(in.text());
    in.expect_end("view answer");
    return text;
  };
  BrokerView first = parse_broker_view(boost::json::serialize(extension(kViewExtension)));
  BOOST_REQUIRE(first.tag.size() == 64u);
  BOOST_TEST(first.tag == broker_view_text(first).tag);  // the tag names what the answer shows
  BOOST_TEST((ask(first.tag) == std::optional<std::string>("")));
  BOOST_TEST((ask(first.tag) == std::optional<std::string>("")));
  // Another tag (an older view, another agent's, nonsense) gets the whole view.
  std::string other = first.tag;
  other[0] = other[0] == '0' ? '1' : '0';
  for (std::string_view tag : {std::string_view(other), std::string_view("x")}) {
    auto full = ask(tag);
    BOOST_REQUIRE(full);
    BOOST_TEST(parse_broker_view(*full).tag == first.tag);
  }
  // More than a tag's length, or contents that are not one string, are refused.
  BOOST_TEST(!ask(std::string(65, 'a')));
  Bytes two_strings = WireWriter().string(first.tag).string(first.tag).take();
  BOOST_TEST(service.handle(ExtensionRequest{std::string(kViewExtension), two_strings}, self()) ==
             extension_failure_message());

  broker.keytool("rotate");
  auto rotated = ask(first.tag);
  BOOST_REQUIRE(rotated);
  BOOST_REQUIRE(!rotated->empty());
  BrokerView second = parse_broker_view(*rotated);
  BOOST_TEST(second.tag != first.tag);
  BOOST_REQUIRE(second.overlap);
  BOOST_TEST(second.overlap->hex() == first.current->hex());
  BOOST_TEST((ask(second.tag) == std::optional<std::string>("")));

  broker.keytool("revoke " + broker.fingerprint() + " --reason test");
  auto revoked = ask(second.tag);
  BOOST_REQUIRE(revoked);
  BOOST_REQUIRE(!revoked->empty());
  BrokerView third = parse_broker_view(*revoked);
  BOOST_TEST(third.tag != second.tag);
  BOOST_TEST(!third.current);
}

BOOST_FIXTURE_TEST_CASE(the_rate_limit_holds, AgentFixture) {
  broker.keytool("consumer set me --rate 3/1h");
  Bytes blob = current_blob();
  for (int i = 0; i < 3; ++i) BOOST_TEST(signature_of(sign(blob, sshsig_signed_data("git", as_bytes("r")))).size() == 64u);
  BOOST_TEST(sign(blob, sshsig_signed_data("git", as_bytes("r"))) == failure_message());
  BOOST_TEST(last_result() == "refused: rate limit 3/3600s reached");
}

BOOST_FIXTURE_TEST_CASE(no_signature_without_its_durable_record, AgentFixture) {
  Bytes blob = current_blob();
  // The signing log turns into a directory: no append can succeed, so no signature leaves.
  fs::remove(config.signing_log);
  fs::create_directory(config.signing_log);
  BOOST_TEST(sign(blob, sshsig_signed_data("git", as_bytes("x"))) == failure_message());
  fs::remove(config.signing_log);
  BOOST_TEST(signature_of(sign(blob, sshsig_signed_data("git", as_bytes("x")))).size() == 64u);
}

BOOST_FIXTURE_TEST_CASE(group_commit_keeps_every_record_in_one_chain, AgentFixture) {
  constexpr int kThreads = 8, kEach = 40;
  Bytes blob = current_blob();
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Bytes data = sshsig_signed_data("git", as_bytes("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (ed25519_verify(key_of(blob), data, signature_of(sign(blob, data)))) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(good.load() == kThreads * kEach);
  auto lines = ChainedLog(config.signing_log).read_lines();
  BOOST_TEST(lines.size() == static_cast<std::size_t>(kThreads * kEach));
  BOOST_TEST(!verify_chain(lines).has_value());
  // Batches overlap their syncs, never more than two at a time (each sync costs CPU).
  BOOST_TEST(log.most_syncing() >= 1u);
  BOOST_TEST(log.most_syncing() <= SigningLogWriter::kSyncsInFlight);
}

// login@brokerkey.org: a consumer PIN must be the peer's own consumer's and right; an empty one
// binds the consumer the kernel named (the protected authentication path). Either is recorded.
BOOST_FIXTURE_TEST_CASE(login_binds_the_peers_consumer, AgentFixture) {
  broker.keytool("consumer add second --uid 4242");
  auto login = [&](Connection& connection, std::optional<std::string> given) {
    WireWriter contents;
    if (given) contents.string(std::string_view(*given));
    return service.handle(ExtensionRequest{std::string(kLoginExtension), contents.take()}, connection);
  };
  BOOST_REQUIRE(pin.starts_with("me:"));
  Connection wrong{self(), std::nullopt, false};
  BOOST_TEST(login(wrong, std::string("me:not-the-secret")) == extension_failure_message());
  BOOST_TEST(login(wrong, "second" + pin.substr(2)) == extension_failure_message());  // another consumer's name
  BOOST_TEST(!wrong.login);

  Connection with_pin{self(), std::nullopt, false};
  WireWriter named;
  named.string(std::string_view("me"));
  BOOST_TEST(login(with_pin, pin) == extension_response(kLoginExtension, named.bytes()));
  BOOST_TEST(with_pin.login.value_or("") == "me");
  BOOST_TEST(login(with_pin, pin) == extension_failure_message());  // once per connection
  Bytes data = sshsig_signed_data("git", as_bytes("with a PIN"));
  Bytes answer = service.handle(SignRequest{current_blob(), data, 0}, with_pin);
  BOOST_TEST(ed25519_verify(key_of(current_blob()), data, signature_of(answer)));
  BOOST_TEST(log_records().back().at("login").as_string() == "pin");

  Connection by_peer{self(), std::nullopt, false};
  BOOST_TEST(login(by_peer, std::nullopt) == extension_response(kLoginExtension, named.bytes()));
  service.handle(SignRequest{current_blob(), data, 0}, by_peer);
  BOOST_TEST(log_records().back().at("login").as_string() == "peer");
}
