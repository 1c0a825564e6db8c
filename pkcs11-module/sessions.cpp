#include "sessions.h"

#include "core/error.h"

namespace brokerkey {

std::shared_ptr<Session> SessionTable::open(SlotRole slot, CK_FLAGS flags) {
  std::lock_guard lock(mutex_);
  auto session = std::make_shared<Session>(next_++, slot, flags);
  sessions_.emplace(session->handle, session);
  return session;
}

std::shared_ptr<Session> SessionTable::get(CK_SESSION_HANDLE handle) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(handle);
  if (it == sessions_.end()) {
    throw Error(CKR_SESSION_HANDLE_INVALID, "no session " + std::to_string(handle));
  }
  return it->second;
}

bool SessionTable::close(CK_SESSION_HANDLE handle) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(handle);
  if (it == sessions_.end()) {
    throw Error(CKR_SESSION_HANDLE_INVALID, "no session " + std::to_string(handle));
  }
  SlotRole slot = it->second->slot;
  sessions_.erase(it);
  for (const auto& [h, session] : sessions_) {
    if (session->slot == slot) return false;
  }
  consumers_[static_cast<std::size_t>(slot)].reset();
  return true;
}

void SessionTable::close_all(SlotRole slot) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [slot](const auto& entry) { return entry.second->slot == slot; });
  consumers_[static_cast<std::size_t>(slot)].reset();
}

std::size_t SessionTable::count(SlotRole slot, bool read_write_only) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [h, session] : sessions_) {
    if (session->slot == slot && (!read_write_only || (session->flags & CKF_RW_SESSION))) ++n;
  }
  return n;
}

std::optional<std::string> SessionTable::consumer(SlotRole slot) const {
  std::lock_guard lock(mutex_);
  return consumers_[static_cast<std::size_t>(slot)];
}

void SessionTable::set_consumer(SlotRole slot, std::optional<std::string> consumer) {
  std::lock_guard lock(mutex_);
  consumers_[static_cast<std::size_t>(slot)] = std::move(consumer);
}

bool SessionTable::wrong_pin_since_login(SlotRole slot) const {
  std::lock_guard lock(mutex_);
  return wrong_pin_[static_cast<std::size_t>(slot)];
}

void SessionTable::set_wrong_pin_since_login(SlotRole slot, bool wrong) {
  std::lock_guard lock(mutex_);
  wrong_pin_[static_cast<std::size_t>(slot)] = wrong;
}

}  // namespace brokerkey
