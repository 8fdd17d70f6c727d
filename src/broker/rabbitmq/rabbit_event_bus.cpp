#include "broker/rabbitmq/rabbit_event_bus.hpp"

#include <sys/time.h>

#include <set>

#include "broker/rabbitmq/amqp_connection.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::broker {

using rabbitmq::AmqpConnection;
using rabbitmq::as_bytes;
using rabbitmq::to_string;

namespace {

constexpr std::string_view kTenantHeader = "atrium-tenant";
constexpr std::string_view kOriginHeader = "atrium-origin";
// How often the consuming thread looks up from the socket to notice a stop or a subscription to
// bind (which a subscribe() waits for).
constexpr std::chrono::milliseconds kConsumePoll{50};
// Heartbeats on the consuming connection, which reads all the time, so a silently dead broker
// is noticed; the publishing connection learns it from its next write.
constexpr int kConsumerHeartbeatSeconds = 30;

amqp_table_entry_t text_entry(std::string_view key, std::string_view value) {
  amqp_table_entry_t e;
  e.key = as_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = as_bytes(value);
  return e;
}

std::string header(const amqp_basic_properties_t& p, std::string_view name) {
  if (!(p._flags & AMQP_BASIC_HEADERS_FLAG)) return {};
  for (int i = 0; i < p.headers.num_entries; ++i) {
    const amqp_table_entry_t& e = p.headers.entries[i];
    if (to_string(e.key) == name &&
        (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES))
      return to_string(e.value.value.bytes);
  }
  return {};
}

// `<topic>.<tenant>`: a topic exchange routes on it, so a replica binds what it subscribes to.
std::string routing_key(const Event& e) { return e.topic + "." + e.tenant; }

std::string binding_key(const EventFilter& f) {
  return f.topic + "." + (f.tenant ? *f.tenant : std::string("#"));
}

// The topic of a routing key built by routing_key().
std::string topic_of(std::string_view key, std::string_view tenant) {
  if (key.size() > tenant.size() && key.ends_with(tenant) &&
      key[key.size() - tenant.size() - 1] == '.')
    key.remove_suffix(tenant.size() + 1);
  return std::string(key);
}

}  // namespace

struct RabbitEventBus::Impl {
  RabbitOptions options;
  rabbitmq::Endpoint endpoint;
  std::size_t capacity = 0;
  std::string exchange;
  std::string replica = new_id();  // marks this process's own events

  Result<std::unique_ptr<AmqpConnection>> open(std::string_view role, int heartbeat) const {
    auto c = AmqpConnection::open(endpoint, {.timeout = options.timeout,
                                             .heartbeat_seconds = heartbeat,
                                             .name = "atrium events " + std::string(role)});
    if (!c) return c;
    amqp_exchange_declare((*c)->state(), AmqpConnection::kChannel, as_bytes(exchange),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    if (auto r = (*c)->check_rpc("declare exchange " + exchange); !r) return fail(r.error());
    return c;
  }
};

Result<std::unique_ptr<RabbitEventBus>> RabbitEventBus::create(RabbitOptions options,
                                                               std::size_t capacity) {
  auto endpoint = rabbitmq::parse_url(options.url);
  if (!endpoint) return fail(endpoint.error());
  auto impl = std::make_unique<Impl>();
  impl->exchange = options.prefix + ".events";
  impl->options = std::move(options);
  impl->endpoint = std::move(*endpoint);
  impl->capacity = capacity;
  std::unique_ptr<RabbitEventBus> bus(new RabbitEventBus(std::move(impl)));
  bus->publisher_ = std::thread([raw = bus.get()] { raw->publish_loop(); });
  bus->consumer_ = std::thread([raw = bus.get()] { raw->consume_loop(); });
  return bus;
}

RabbitEventBus::RabbitEventBus(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), local_(impl_->capacity) {}

RabbitEventBus::~RabbitEventBus() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  if (consumer_.joinable()) consumer_.join();
}

Result<void> RabbitEventBus::publish(Event event) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return fail(Error::unavailable("event bus stopped"));
    // A long broker outage fills the buffer: the oldest events go (at most once), and this
    // replica's own subscribers still hear every event.
    if (outgoing_.size() >= impl_->capacity) outgoing_.pop_front();
    outgoing_.push_back(event);
    // The publishing thread is woken by the first event after a quiet spell, or by a full batch;
    // while it lingers it takes the others when the linger ends (publish_loop()).
    wake = lingering_ ? outgoing_.size() >= kMaxBatch : outgoing_.size() == 1;
  }
  if (wake) cv_.notify_all();
  return local_.publish(std::move(event));
}

EventBus::Subscription RabbitEventBus::subscribe(EventFilter filter, Handler handler) {
  std::string key = binding_key(filter);
  auto local =
      std::make_shared<Subscription>(local_.subscribe(std::move(filter), std::move(handler)));
  {
    std::unique_lock lock(mu_);
    if (interests_[key]++ == 0) ++wanted_generation_;
    const auto wanted = wanted_generation_;
    // Until the broker has the binding, other replicas' events would not come: wait for it,
    // unless the consumer is disconnected (it binds everything when it connects again).
    bound_cv_.wait_for(lock, impl_->options.timeout, [&] {
      return stopping_ || bound_generation_ >= wanted || !consumer_up_.load();
    });
  }
  return Subscription([this, key = std::move(key), local = std::move(local)] {
    local->reset();
    std::lock_guard lock(mu_);
    if (auto it = interests_.find(key); it != interests_.end() && --it->second == 0) {
      interests_.erase(it);
      ++wanted_generation_;
    }
  });
}

bool RabbitEventBus::sync_bindings(AmqpConnection& c, const std::string& queue,
                                   std::set<std::string>& bound) {
  for (;;) {
    std::map<std::string, int> wanted;
    std::uint64_t generation;
    {
      std::lock_guard lock(mu_);
      generation = wanted_generation_;
      if (generation == bound_generation_ && consumer_up_.load()) return true;
      wanted = interests_;
    }
    for (const auto& [key, n] : wanted) {
      if (bound.contains(key)) continue;
      amqp_queue_bind(c.state(), AmqpConnection::kChannel, as_bytes(queue),
                      as_bytes(impl_->exchange), as_bytes(key), amqp_empty_table);
      if (!c.check_rpc("bind the event queue")) return false;
      bound.insert(key);
    }
    for (auto it = bound.begin(); it != bound.end();) {
      if (wanted.contains(*it)) {
        ++it;
        continue;
      }
      amqp_queue_unbind(c.state(), AmqpConnection::kChannel, as_bytes(queue),
                        as_bytes(impl_->exchange), as_bytes(*it), amqp_empty_table);
      if (!c.check_rpc("unbind the event queue")) return false;
      it = bound.erase(it);
    }
    {
      std::lock_guard lock(mu_);
      bound_generation_ = generation;
      consumer_up_ = true;
    }
    bound_cv_.notify_all();
  }
}

Result<void> RabbitEventBus::ping() {
  if (publisher_up_.load() && consumer_up_.load()) return {};
  return fail(Error::unavailable("the event bus is not connected to the broker"));
}

void RabbitEventBus::publish_loop() {
  rabbitmq::Backoff backoff(impl_->options.initial_backoff, impl_->options.max_backoff);
  std::unique_ptr<AmqpConnection> c;
  std::vector<Event> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    // Connect ahead of the first event, so readiness tells the truth.
    cv_.wait(lock, [&] { return stopping_ || !outgoing_.empty() || !c; });
    if (stopping_) return;
    if (!c) {
      if (!backoff.ready()) {
        cv_.wait_for(lock, backoff.remaining(), [&] { return stopping_; });
        continue;
      }
      lock.unlock();
      auto opened = impl_->open("publisher", 0);
      lock.lock();
      if (!opened) {
        if (publisher_up_.exchange(false) || backoff.delay().count() == 0)
          log::warn("event bus cannot reach the broker", {{"error", opened.error().detail}});
        backoff.failed();
        continue;
      }
      c = std::move(*opened);
      backoff.succeeded();
      publisher_up_ = true;
      continue;
    }
    // Busy: what is queued goes in one write, then the thread lingers (kLinger) so that the next
    // events gather instead of each waking it; once a linger passes with nothing queued it waits
    // for publish() again, and the first event after a quiet spell goes at once.
    while (!outgoing_.empty() && !stopping_) {
      const std::size_t n = std::min(outgoing_.size(), kMaxBatch);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(outgoing_.front()));
        outgoing_.pop_front();
      }
      lock.unlock();
      auto sent = send_events(*c, batch);
      lock.lock();
      if (!sent) {
        log::warn("event bus lost its broker connection", {{"error", sent.error().detail}});
        // Sent again after reconnecting (some may have reached the broker: events say that
        // something changed, a repeat is harmless).
        for (auto it = batch.rbegin(); it != batch.rend(); ++it)
          outgoing_.push_front(std::move(*it));
        while (outgoing_.size() > impl_->capacity) outgoing_.pop_back();
        c.reset();
        publisher_up_ = false;
        backoff.failed();
        break;
      }
      sent_.fetch_add(n, std::memory_order_relaxed);
      lingering_ = true;
      cv_.wait_for(lock, kLinger, [&] { return stopping_ || outgoing_.size() >= kMaxBatch; });
      lingering_ = false;
    }
  }
}

Result<void> RabbitEventBus::send_events(AmqpConnection& c, const std::vector<Event>& batch) {
  for (const Event& event : batch) {
    amqp_table_entry_t headers[] = {text_entry(kTenantHeader, event.tenant),
                                    text_entry(kOriginHeader, impl_->replica)};
    amqp_basic_properties_t props{};
    props._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 1;  // transient: events are worth nothing after a broker restart
    props.headers = {2, headers};
    if (auto r = c.buffer_publish(impl_->exchange, routing_key(event), false, props, event.payload);
        !r) {
      // Not an AMQP name (a topic or tenant over 255 bytes): this event cannot go.
      log::warn("event not sent", {{"topic", event.topic}, {"error", r.error().detail}});
    }
  }
  return c.send_buffered("publish events",
                         std::chrono::steady_clock::now() + impl_->options.timeout);
}

void RabbitEventBus::consume_loop() {
  rabbitmq::Backoff backoff(impl_->options.initial_backoff, impl_->options.max_backoff);
  std::unique_ptr<AmqpConnection> c;
  std::string queue;
  std::set<std::string> bound;  // the binding keys of `queue`
  auto stopping = [&] {
    std::lock_guard lock(mu_);
    return stopping_;
  };
  auto lost = [&](std::string_view why) {
    bool was_up;
    {
      std::lock_guard lock(mu_);
      was_up = consumer_up_.exchange(false);
    }
    bound_cv_.notify_all();
    if (was_up) log::warn("event bus stopped receiving", {{"error", why}});
    c.reset();
    bound.clear();
    backoff.failed();
  };
  while (!stopping()) {
    if (!c) {
      if (!backoff.ready()) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::min(backoff.remaining(), kConsumePoll), [&] { return stopping_; });
        continue;
      }
      auto opened = impl_->open("consumer", kConsumerHeartbeatSeconds);
      Result<void> ready = opened ? Result<void>() : fail(opened.error());
      if (ready) {
        c = std::move(*opened);
        // Bounded on the broker too: a stalled replica loses its oldest events, not the broker's
        // memory.
        amqp_table_entry_t args[1];
        args[0].key = amqp_cstring_bytes("x-max-length");
        args[0].value.kind = AMQP_FIELD_KIND_I64;
        args[0].value.value.i64 = static_cast<std::int64_t>(impl_->capacity);
        ready = c->declare_queue("", false, true, {1, args}, &queue).map([](auto) {});
      }
      if (ready) {
        amqp_basic_consume(c->state(), AmqpConnection::kChannel, as_bytes(queue), amqp_empty_bytes,
                           0, /*no_ack=*/1, 1, amqp_empty_table);
        ready = c->check_rpc("consume events");
      }
      if (ready && !sync_bindings(*c, queue, bound)) {
        ready = fail(Error::unavailable("cannot bind the event queue"));
      }
      if (!ready) {
        if (backoff.delay().count() == 0)
          log::warn("event bus cannot reach the broker", {{"error", ready.error().detail}});
        lost(ready.error().detail);
        continue;
      }
      backoff.succeeded();
    }
    if (!sync_bindings(*c, queue, bound)) {
      lost("cannot bind the event queue");
      continue;
    }

    amqp_connection_state_t s = c->state();
    amqp_maybe_release_buffers(s);
    amqp_envelope_t env;
    timeval tv{0, static_cast<suseconds_t>(kConsumePoll.count() * 1000)};
    amqp_rpc_reply_t r = amqp_consume_message(s, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      const auto& p = env.message.properties;
      if (header(p, kOriginHeader) != impl_->replica) {
        std::string tenant = header(p, kTenantHeader);
        Event e{topic_of(to_string(env.routing_key), tenant), std::move(tenant),
                to_string(env.message.body)};
        received_.fetch_add(1, std::memory_order_relaxed);
        if (auto ok = local_.publish(std::move(e)); !ok)
          log::warn("event dropped", {{"error", ok.error().detail}});
      }
      amqp_destroy_envelope(&env);
      continue;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
      continue;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      amqp_frame_t frame;
      if (amqp_simple_wait_frame(s, &frame) != AMQP_STATUS_OK) {
        lost("connection lost");
      } else if (frame.frame_type == AMQP_FRAME_METHOD &&
                 (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                  frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
                  frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD)) {
        c->mark_broken();
        lost("closed by the broker");
      }
      continue;
    }
    c->mark_broken();
    lost("connection lost");
  }
}

}  // namespace atrium::broker
