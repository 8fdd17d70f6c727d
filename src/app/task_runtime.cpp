#include "app/task_runtime.hpp"

#include "tasks/echo_executor.hpp"
#include "tasks/openai_executor.hpp"
#include "tasks/org_secrets.hpp"
#include "tasks/routes.hpp"

namespace atrium::app {
namespace {

tasks::WorkerOptions worker_options(const Config& c) {
  tasks::WorkerOptions o;
  o.workers = c.workers;
  o.lease = std::chrono::seconds(c.task_lease_seconds);
  o.timeout = std::chrono::seconds(c.task_timeout_seconds);
  o.max_attempts = c.task_max_attempts;
  o.retry_delay = std::chrono::milliseconds(c.task_retry_delay_ms);
  o.tenant_max_running = c.tenant_max_running;
  o.republish_after = std::chrono::seconds(c.task_republish_after_seconds);
  return o;
}

tasks::OpenAiOptions openai_options(const Config& c) {
  tasks::OpenAiOptions o;
  auto keys = nlohmann::json::parse(c.llm_keys, nullptr, false);
  if (keys.is_object() && keys.contains("openai") && keys["openai"].is_string())
    o.platform_key = keys["openai"].get<std::string>();
  o.allow_private_networks = c.llm_allow_private_networks;
  return o;
}

}  // namespace

TaskRuntime::TaskRuntime(const Config& config, db::Database& db, broker::EventBus& bus,
                         const Clock& clock, metrics::Registry& metrics, broker::TaskQueue* queue,
                         tasks::DeadLetterSource dead_letters)
    // The in-process queue's per-organization cap matches the workers' own, so a busy
    // organization's messages wait in the queue instead of being deferred over and over.
    : embedded_(queue
                    ? nullptr
                    : std::make_unique<broker::EmbeddedTaskQueue>(broker::EmbeddedTaskQueueOptions{
                          .capacity = 100000,
                          .max_in_flight_per_key = config.tenant_max_running,
                          .delivery_limit = 10})),
      queue_(queue ? *queue : *embedded_),
      store_(db, clock),
      relay_(db, queue_, clock, {}),
      events_(&bus, &metrics),
      pool_(
          store_, queue_, executors_, events_, clock, worker_options(config),
          tasks::org_secret_reader(db, config.data_key), [this] { relay_.notify(); }, &metrics,
          // The in-process queue's dead letters are settled as RabbitMQ's are: their tasks fail.
          embedded_ ? tasks::DeadLetterSource([q = embedded_.get()] {
            return q->consume_dead_letters({.prefetch = 8});
          })
                    : std::move(dead_letters)),
      service_(
          store_, events_, executors_,
          {.max_queued = config.tenant_max_queued, .retry_after_seconds = 5},
          [this] { relay_.notify(); },
          [this](const std::string& task_id) { pool_.cancelled(task_id); }) {
  executors_.add("echo", std::make_unique<tasks::EchoExecutor>());
  executors_.add("openai", std::make_unique<tasks::OpenAiExecutor>(openai_options(config)));
  metrics.gauge("atrium_task_queue_depth", "Task messages waiting in the queue", [this] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(queue_.depth().value_or(0))}};
  });
}

TaskRuntime::~TaskRuntime() { stop(); }

void TaskRuntime::add_routes(http::Router& router) { tasks::add_routes(router, service_); }

void TaskRuntime::start(bool workers) {
  relay_.start();
  workers_ = workers;
  if (workers_) pool_.start();
}

void TaskRuntime::stop() {
  pool_.stop();
  relay_.stop();
  // The tasks the pool just gave back wait in the outbox: send them now, for another worker.
  if (workers_ && queue_.durable()) (void)relay_.relay_due();
}

ReadinessCheck TaskRuntime::readiness() {
  return {"queue", [this] { return queue_.ping(); }};
}

}  // namespace atrium::app
