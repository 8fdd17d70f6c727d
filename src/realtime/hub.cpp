#include "realtime/hub.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "platform/log.hpp"

namespace atrium::realtime {

namespace {

constexpr std::string_view kTaskTopic = "task.status";

bool terminal_status(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

}  // namespace

Hub::Hub(broker::EventBus& bus, const Clock& clock, HubOptions options)
    : bus_(bus), clock_(clock), options_(options), checker_([this] { run_checks(); }) {}

Hub::~Hub() {
  std::unordered_map<std::string, Interest> cancelled;
  {
    std::lock_guard lock(interest_mu_);
    cancelled.swap(interests_);
  }
  cancelled.clear();
  {
    std::lock_guard lock(check_mu_);
    stopping_ = true;
  }
  check_cv_.notify_all();
  checker_.join();
}

bool Hub::admit(const std::string& tenant, Subscriber* s) {
  {
    std::unique_lock lock(mu_);
    auto& t = tenants_[tenant];
    if (t.members.size() >= options_.max_connections_per_tenant) {
      if (t.members.empty()) tenants_.erase(tenant);
      return false;
    }
    if (!t.members.try_emplace(s).second) return true;
    ++connections_;
  }
  want(tenant);
  return true;
}

void Hub::want(const std::string& tenant) {
  std::unique_lock lock(interest_mu_);
  if (interests_[tenant].members++ > 0) {
    // Another member subscribed, or is subscribing: its events flow once it is done. The entry
    // stays while this member counts in it.
    interest_cv_.wait(lock, [&] { return interests_[tenant].subscribed; });
    return;
  }
  lock.unlock();
  auto subscription = bus_.subscribe({std::string(kTaskTopic), tenant},
                                     [this](const broker::Event& e) { on_event(e); });
  lock.lock();
  auto& interest = interests_[tenant];
  interest.subscription = std::move(subscription);
  interest.subscribed = true;
  lock.unlock();
  interest_cv_.notify_all();
}

void Hub::unwant(const std::string& tenant) {
  broker::EventBus::Subscription cancelled;  // cancelled after the lock is released
  std::lock_guard lock(interest_mu_);
  auto it = interests_.find(tenant);
  if (it == interests_.end() || --it->second.members > 0) return;
  // A member leaves only after its admit() returned, so the subscription is in place.
  cancelled = std::move(it->second.subscription);
  interests_.erase(it);
}

void Hub::drop_task(Tenant& t, const std::string& task_id, Subscriber* s) {
  auto task = t.by_task.find(task_id);
  if (task == t.by_task.end()) return;
  task->second.erase(s);
  if (task->second.empty()) t.by_task.erase(task);
}

void Hub::leave(const std::string& tenant, Subscriber* s) {
  std::unique_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  auto& t = it->second;
  auto member = t.members.find(s);
  if (member == t.members.end()) return;
  for (const auto& task_id : member->second.tasks) drop_task(t, task_id, s);
  t.members.erase(member);
  --connections_;
  if (t.members.empty()) tenants_.erase(it);
  lock.unlock();
  unwant(tenant);
}

void Hub::subscribe_all(const std::string& tenant, Subscriber* s) {
  std::unique_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  if (auto member = it->second.members.find(s); member != it->second.members.end())
    member->second.all_tasks = true;
}

void Hub::subscribe_task(const std::string& tenant, const std::string& task_id, Subscriber* s) {
  std::unique_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  auto member = it->second.members.find(s);
  if (member == it->second.members.end()) return;
  auto& tasks = member->second.tasks;
  if (std::find(tasks.begin(), tasks.end(), task_id) == tasks.end()) tasks.push_back(task_id);
  it->second.by_task[task_id].insert(s);
}

void Hub::unsubscribe_task(const std::string& tenant, const std::string& task_id, Subscriber* s) {
  std::unique_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  auto member = it->second.members.find(s);
  if (member == it->second.members.end()) return;
  auto& tasks = member->second.tasks;
  if (auto task = std::find(tasks.begin(), tasks.end(), task_id); task != tasks.end()) {
    tasks.erase(task);
    drop_task(it->second, task_id, s);
  }
}

void Hub::unsubscribe(const std::string& tenant, Subscriber* s) {
  std::unique_lock lock(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return;
  auto member = it->second.members.find(s);
  if (member == it->second.members.end()) return;
  for (const auto& task_id : member->second.tasks) drop_task(it->second, task_id, s);
  member->second = Member{};
}

std::size_t Hub::connections() const {
  std::shared_lock lock(mu_);
  return connections_;
}

std::size_t Hub::connections(const std::string& tenant) const {
  std::shared_lock lock(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.members.size();
}

void Hub::on_event(const broker::Event& event) {
  // Every task transition of every tenant comes here, mostly with nobody of the tenant connected
  // to this replica: the payload is parsed only when someone may want it. A connection admitted
  // meanwhile may miss this event, as it could before (events are at most once).
  {
    std::shared_lock lock(mu_);
    if (!tenants_.contains(event.tenant)) return;
  }
  // Only the task id and status are needed to route; the message is the payload itself with its
  // "type" in front, built once for every recipient.
  auto payload = nlohmann::json::parse(event.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object() || !payload.contains("task") ||
      !payload["task"].is_object() || !payload["task"].value("id", nlohmann::json()).is_string()) {
    log::warn("malformed task event ignored", {{"tenant", event.tenant}});
    return;
  }
  const std::string task_id = payload["task"]["id"].get<std::string>();
  const bool terminal = !payload.contains("progress") &&
                        terminal_status(payload["task"].value("status", std::string()));
  std::string text = event.payload;
  if (text.size() < 2 || text.front() != '{') return;
  auto message = std::make_shared<const std::string>(
      "{\"type\":\"task-status\"," + (text.size() > 2 ? text.substr(1) : std::string("}")));

  std::shared_lock lock(mu_);
  auto it = tenants_.find(event.tenant);
  if (it == tenants_.end()) return;
  const auto& t = it->second;
  for (const auto& [s, member] : t.members)
    if (member.all_tasks) s->deliver(task_id, message, terminal);
  if (auto task = t.by_task.find(task_id); task != t.by_task.end()) {
    for (auto* s : task->second)
      if (auto m = t.members.find(s); m != t.members.end() && !m->second.all_tasks)
        s->deliver(task_id, message, terminal);  // once per session
  }
}

void Hub::run_checks() {
  std::unique_lock lock(check_mu_);
  while (!stopping_) {
    check_cv_.wait_for(lock, options_.check_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    {
      const TimePoint now = clock_.now();
      std::shared_lock members(mu_);
      for (const auto& [tenant, t] : tenants_)
        for (const auto& [s, member] : t.members) s->check(now);
    }
    lock.lock();
  }
}

}  // namespace atrium::realtime
