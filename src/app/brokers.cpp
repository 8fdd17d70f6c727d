#include "app/brokers.hpp"

#include "broker/embedded/embedded_event_bus.hpp"
#include "broker/rabbitmq/rabbit_event_bus.hpp"
#include "broker/rabbitmq/rabbit_task_queue.hpp"

namespace atrium::app {

Result<Brokers> open_brokers(const Config& config, metrics::Registry& metrics) {
  Brokers b;
  if (config.broker_url == "embedded") {
    b.bus = std::make_unique<broker::EmbeddedEventBus>();
    return b;
  }

  broker::RabbitOptions options;
  options.url = config.broker_url;
  options.prefix = config.broker_prefix;
  auto queue = broker::RabbitTaskQueue::create(options);
  if (!queue) return fail(queue.error());
  auto bus = broker::RabbitEventBus::create(options);
  if (!bus) return fail(bus.error());
  broker::RabbitTaskQueue* q = queue->get();
  broker::RabbitEventBus* events = bus->get();
  metrics.gauge("atrium_task_dead_letters", "Task messages in the dead-letter queue", [q] {
    return std::vector<std::pair<metrics::Labels, double>>{
        {{}, static_cast<double>(q->dead_letters().value_or(0))}};
  });
  b.readiness.push_back({"events", [events] { return events->ping(); }});
  b.dead_letters = [q] { return q->consume_dead_letters({.prefetch = 8}); };
  b.queue = std::move(*queue);
  b.bus = std::move(*bus);
  b.distributed = true;
  return b;
}

}  // namespace atrium::app
