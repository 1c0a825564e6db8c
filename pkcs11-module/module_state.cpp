#include "module_state.h"

#include <pthread.h>

#include "core/error.h"

namespace brokerkey {

ModuleState::ModuleState(Config config)
    : config_(std::move(config)),
      source_(config_.mode == ConfigMode::client ? make_agent_source(config_) : make_embedded_source(config_)) {}

ModuleState::ModuleState(Config config, std::unique_ptr<KeySource> source)
    : config_(std::move(config)), source_(std::move(source)) {}

std::shared_ptr<const TokenView> ModuleState::session_view() {
  auto view = source_->view();
  if (view->unavailable) throw *view->unavailable;
  return view;
}

namespace {

std::mutex g_state_mutex;
// Never destroyed: a client that exits without C_Finalize must not have the backend torn down
// by a static destructor after the backend's own statics are gone. Static storage rather than
// the heap, so nothing is left behind when a client unloads the module.
alignas(std::shared_ptr<ModuleState>) unsigned char g_state_storage[sizeof(std::shared_ptr<ModuleState>)];
std::shared_ptr<ModuleState>& g_state = *new (g_state_storage) std::shared_ptr<ModuleState>();

// After fork() the child must not use the parent's sessions or backend state: it sees
// CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself. The parent's state is
// abandoned, not destroyed, since destroying it would close the parent's backend sessions.
void forget_state_in_child() {
  new (&g_state_mutex) std::mutex();
  if (g_state) new std::shared_ptr<ModuleState>(std::move(g_state));
}

[[maybe_unused]] const int g_fork_handler = ::pthread_atfork(nullptr, nullptr, forget_state_in_child);

}  // namespace

void install_state(std::shared_ptr<ModuleState> state) {
  std::lock_guard lock(g_state_mutex);
  g_state = std::move(state);
}

std::shared_ptr<ModuleState> current_state() {
  std::lock_guard lock(g_state_mutex);
  if (!g_state) throw Error(CKR_CRYPTOKI_NOT_INITIALIZED, "C_Initialize has not been called");
  return g_state;
}

std::shared_ptr<ModuleState> take_state() {
  std::lock_guard lock(g_state_mutex);
  return std::exchange(g_state, nullptr);
}

bool state_installed() {
  std::lock_guard lock(g_state_mutex);
  return g_state != nullptr;
}

}  // namespace brokerkey
