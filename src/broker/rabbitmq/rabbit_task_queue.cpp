#include "broker/rabbitmq/rabbit_task_queue.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <thread>
#include <vector>

#include "broker/rabbitmq/amqp_connection.hpp"
#include "platform/log.hpp"

namespace atrium::broker {

using rabbitmq::AmqpConnection;
using rabbitmq::as_bytes;
using rabbitmq::to_string;

namespace {

constexpr std::string_view kKeyHeader = "atrium-key";
// The longest pause before publishing again messages the broker refused (nacked).
constexpr std::chrono::milliseconds kRefusedPause{200};

amqp_table_entry_t text_entry(const char* key, std::string_view value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = as_bytes(value);
  return e;
}

amqp_table_entry_t int_entry(const char* key, std::int64_t value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

std::optional<std::int64_t> as_int(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      return v.value.i8;
    case AMQP_FIELD_KIND_U8:
      return v.value.u8;
    case AMQP_FIELD_KIND_I16:
      return v.value.i16;
    case AMQP_FIELD_KIND_U16:
      return v.value.u16;
    case AMQP_FIELD_KIND_I32:
      return v.value.i32;
    case AMQP_FIELD_KIND_U32:
      return v.value.u32;
    case AMQP_FIELD_KIND_I64:
      return v.value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<std::int64_t>(v.value.u64);
    default:
      return std::nullopt;
  }
}

timeval to_timeval(std::chrono::milliseconds d) {
  if (d.count() < 0) d = {};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

Delivery to_delivery(const amqp_envelope_t& env) {
  Delivery d;
  d.tag = env.delivery_tag;
  const amqp_basic_properties_t& p = env.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message.id = to_string(p.message_id);
  // Quorum queues count earlier unsuccessful deliveries in x-delivery-count.
  std::int64_t returned = env.redelivered ? 1 : 0;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; ++i) {
      const amqp_table_entry_t& e = p.headers.entries[i];
      const std::string key = to_string(e.key);
      if (key == kKeyHeader &&
          (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES)) {
        d.message.key = to_string(e.value.value.bytes);
      } else if (key == "x-delivery-count") {
        if (auto n = as_int(e.value)) returned = std::max<std::int64_t>(*n, 0);
      }
    }
  }
  d.delivery_count = static_cast<int>(std::min<std::int64_t>(returned, 1 << 20)) + 1;
  d.message.body = to_string(env.message.body);
  return d;
}

}  // namespace

class RabbitTaskQueue::ConsumerImpl final : public TaskQueue::Consumer {
 public:
  explicit ConsumerImpl(std::unique_ptr<AmqpConnection> c)
      : c_(std::move(c)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~ConsumerImpl() override {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  // Waits for the socket and the wake-up descriptor together; frames rabbitmq-c has already read
  // are taken first, and the socket is read without blocking once poll() says it has data.
  Result<std::optional<Delivery>> next(std::chrono::milliseconds timeout) override {
    if (c_->broken()) return fail(Error::unavailable("the consumer's broker connection is lost"));
    amqp_connection_state_t s = c_->state();
    amqp_maybe_release_buffers(s);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const bool buffered = amqp_frames_enqueued(s) || amqp_data_in_buffer(s);
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd fds[2] = {{amqp_get_sockfd(s), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int n =
          ::poll(fds, wake_fd_ >= 0 ? 2 : 1,
                 buffered ? 0 : static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
      if (n < 0 && errno != EINTR) {
        c_->mark_broken();
        return fail(Error::unavailable("broker connection lost while consuming"));
      }
      if (n > 0 && wake_fd_ >= 0 && (fds[1].revents & POLLIN)) {
        std::uint64_t count;
        (void)::read(wake_fd_, &count, sizeof count);
        return std::optional<Delivery>();
      }
      if (!buffered && n <= 0) {
        if (n == 0 || left.count() <= 0) return std::optional<Delivery>();
        continue;  // EINTR
      }
      auto got = consume_ready();
      if (!got || *got) return got;
      // Only part of a frame had arrived: wait for the rest, within the timeout.
      if (std::chrono::steady_clock::now() >= deadline) return std::optional<Delivery>();
    }
  }

  Result<void> ack(std::uint64_t tag) override {
    // The broker closes the channel on an unknown tag; the contract makes it a no-op.
    if (unacked_.erase(tag) == 0) return {};
    return c_->write("ack",
                     [&] { return amqp_basic_ack(c_->state(), AmqpConnection::kChannel, tag, 0); });
  }

  Result<void> nack(std::uint64_t tag, bool requeue) override {
    if (unacked_.erase(tag) == 0) return {};
    return c_->write("nack", [&] {
      return amqp_basic_nack(c_->state(), AmqpConnection::kChannel, tag, 0, requeue ? 1 : 0);
    });
  }

  Result<void> ack_all(std::span<const std::uint64_t> tags) override {
    std::vector<std::uint64_t> known;
    for (auto tag : tags)
      if (unacked_.contains(tag)) known.push_back(tag);
    if (known.empty()) return {};
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    // The leading tags that are also the oldest unacknowledged deliveries, in order: one
    // acknowledgement of the last of them with `multiple` covers them all and nothing else.
    std::size_t run = 0;
    for (auto it = unacked_.begin();
         run < known.size() && it != unacked_.end() && *it == known[run]; ++it)
      ++run;
    for (auto tag : known) unacked_.erase(tag);
    return c_->write("ack", [&] {
      std::size_t i = 0;
      if (run >= 2) {
        if (int st = amqp_basic_ack(c_->state(), AmqpConnection::kChannel, known[run - 1], 1);
            st != AMQP_STATUS_OK)
          return st;
        i = run;
      }
      for (; i < known.size(); ++i) {
        if (int st = amqp_basic_ack(c_->state(), AmqpConnection::kChannel, known[i], 0);
            st != AMQP_STATUS_OK)
          return st;
      }
      return static_cast<int>(AMQP_STATUS_OK);
    });
  }

  void wake() override {
    const std::uint64_t one = 1;
    if (wake_fd_ >= 0) (void)::write(wake_fd_, &one, sizeof one);
  }

 private:
  // Reads what the socket has without waiting: a delivery, nullopt when no whole frame has come
  // yet (or one that is not a delivery and changes nothing), an error when the consumer ended.
  Result<std::optional<Delivery>> consume_ready() {
    amqp_connection_state_t s = c_->state();
    amqp_envelope_t env;
    timeval tv{0, 0};
    amqp_rpc_reply_t r = amqp_consume_message(s, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      Delivery d = to_delivery(env);
      amqp_destroy_envelope(&env);
      unacked_.insert(d.tag);
      return d;
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      return std::optional<Delivery>();
    }
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
      // Something other than a delivery: a close or a cancel (the queue was deleted) ends this
      // consumer; anything else (a heartbeat) is nothing to report.
      amqp_frame_t frame;
      if (int st = amqp_simple_wait_frame(s, &frame); st != AMQP_STATUS_OK) {
        c_->mark_broken();
        return fail(
            Error::unavailable(std::string("broker connection lost: ") + amqp_error_string2(st)));
      }
      if (frame.frame_type == AMQP_FRAME_METHOD &&
          (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
           frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD)) {
        c_->mark_broken();
        return fail(Error::unavailable("the broker ended the consumer"));
      }
      return std::optional<Delivery>();
    }
    c_->mark_broken();
    return fail(Error::unavailable("broker connection lost while consuming"));
  }

  std::unique_ptr<AmqpConnection> c_;
  std::set<std::uint64_t> unacked_;
  const int wake_fd_;  // eventfd: wake() makes a waiting next() return
};

Result<std::unique_ptr<RabbitTaskQueue>> RabbitTaskQueue::create(RabbitOptions options) {
  auto endpoint = rabbitmq::parse_url(options.url);
  if (!endpoint) return fail(endpoint.error());
  std::unique_ptr<RabbitTaskQueue> q(new RabbitTaskQueue(
      std::move(options), std::make_unique<rabbitmq::Endpoint>(std::move(*endpoint))));
  q->monitor_ = std::thread([raw = q.get()] { raw->monitor(); });
  return q;
}

RabbitTaskQueue::RabbitTaskQueue(RabbitOptions options,
                                 std::unique_ptr<rabbitmq::Endpoint> endpoint)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      queue_(options_.prefix + ".tasks"),
      dlx_(options_.prefix + ".tasks.dlx"),
      dead_queue_(options_.prefix + ".tasks.dead"),
      backoff_(options_.initial_backoff, options_.max_backoff) {}

RabbitTaskQueue::~RabbitTaskQueue() {
  {
    std::lock_guard lock(monitor_mu_);
    stopping_ = true;
  }
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
}

Result<std::unique_ptr<AmqpConnection>> RabbitTaskQueue::connect(
    std::string_view role, std::optional<std::chrono::milliseconds> timeout) {
  {
    std::lock_guard lock(connect_mu_);
    if (!backoff_.ready()) {
      return fail(Error::unavailable("broker unreachable; next attempt in " +
                                     std::to_string(backoff_.remaining().count()) + " ms"));
    }
  }
  auto c = AmqpConnection::open(*endpoint_, {.timeout = timeout.value_or(options_.timeout),
                                             .heartbeat_seconds = 0,
                                             .name = "atrium " + std::string(role)});
  Result<void> declared;
  if (c) {
    // Idempotent: the same arguments every time; a queue declared with others is refused
    // (PRECONDITION_FAILED), which an operator must resolve.
    amqp_connection_state_t s = (*c)->state();
    amqp_exchange_declare(s, AmqpConnection::kChannel, as_bytes(dlx_), amqp_cstring_bytes("direct"),
                          0, 1, 0, 0, amqp_empty_table);
    declared = (*c)->check_rpc("declare exchange " + dlx_);
    amqp_table_entry_t quorum[] = {text_entry("x-queue-type", "quorum")};
    if (declared) {
      declared =
          (*c)->declare_queue(dead_queue_, true, false, {1, quorum}, nullptr).map([](auto) {});
    }
    if (declared) {
      amqp_queue_bind(s, AmqpConnection::kChannel, as_bytes(dead_queue_), as_bytes(dlx_),
                      as_bytes(dead_queue_), amqp_empty_table);
      declared = (*c)->check_rpc("bind " + dead_queue_);
    }
    if (declared) {
      amqp_table_entry_t args[] = {text_entry("x-queue-type", "quorum"),
                                   int_entry("x-delivery-limit", options_.delivery_limit),
                                   text_entry("x-dead-letter-exchange", dlx_),
                                   text_entry("x-dead-letter-routing-key", dead_queue_)};
      declared = (*c)->declare_queue(queue_, true, false, {4, args}, nullptr).map([](auto) {});
    }
    amqp_maybe_release_buffers(s);
  }
  std::lock_guard lock(connect_mu_);
  if (!c || !declared) {
    backoff_.failed();
    return fail(c ? declared.error() : c.error());
  }
  backoff_.succeeded();
  return std::move(*c);
}

Result<void> RabbitTaskQueue::publish(std::span<const QueueMessage> batch) {
  if (batch.empty()) return {};
  std::lock_guard lock(publish_mu_);
  // One deadline for the whole call, the retry included: the caller waits `timeout` at most.
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now());
  };
  for (int attempt = 0;; ++attempt) {
    const bool reused = publisher_ != nullptr;
    if (!publisher_) {
      if (left().count() <= 0)
        return fail(Error::unavailable("the broker did not accept the messages in time"));
      auto c = connect("publisher", left());
      if (!c) return fail(c.error());
      amqp_confirm_select((*c)->state(), AmqpConnection::kChannel);
      if (auto r = (*c)->check_rpc("confirm select"); !r) return fail(r.error());
      (*c)->set_timeout(options_.timeout);
      publisher_ = std::move(*c);
      next_publish_seq_ = 1;
    }
    auto published = publish_on(*publisher_, batch, deadline);
    if (published) return {};
    if (publisher_->broken()) publisher_.reset();
    // A connection kept from earlier may have died unnoticed while idle: one retry on a new one,
    // in what is left of the time.
    if (!reused || attempt > 0 || publisher_ || left().count() <= 0) return fail(published.error());
  }
}

Result<void> RabbitTaskQueue::publish_on(AmqpConnection& c, std::span<const QueueMessage> batch,
                                         std::chrono::steady_clock::time_point deadline) {
  std::vector<const QueueMessage*> round;
  for (const auto& m : batch) round.push_back(&m);
  // The broker nacks what its queue cannot take yet — a quorum queue just declared, still
  // electing its leader, or one failing over — and nothing of a nacked message was enqueued:
  // those go again, alone, until the deadline.
  for (auto pause = std::chrono::milliseconds(10);; pause = std::min(pause * 2, kRefusedPause)) {
    std::vector<const QueueMessage*> refused;
    if (auto r = publish_round(c, round, deadline, refused); !r) return r;
    if (refused.empty()) return {};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= pause) return fail(Error::unavailable("the broker refused messages"));
    std::this_thread::sleep_for(pause);
    round = std::move(refused);
  }
}

Result<void> RabbitTaskQueue::publish_round(AmqpConnection& c,
                                            const std::vector<const QueueMessage*>& batch,
                                            std::chrono::steady_clock::time_point deadline,
                                            std::vector<const QueueMessage*>& refused) {
  amqp_connection_state_t s = c.state();
  const std::uint64_t first = next_publish_seq_;
  // The whole batch in one write (AmqpConnection::buffer_publish()).
  for (const QueueMessage* message : batch) {
    const QueueMessage& m = *message;
    amqp_table_entry_t headers[] = {text_entry(kKeyHeader.data(), m.key)};
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.message_id = as_bytes(m.id);
    props.headers = {1, headers};
    // Mandatory: a message the broker cannot route (the queue is gone) comes back instead of
    // vanishing, and the batch is reported failed.
    if (auto r = c.buffer_publish("", queue_, true, props, m.body); !r) {
      c.discard_buffered();  // nothing of the batch was sent
      next_publish_seq_ = first;
      return r;
    }
    ++next_publish_seq_;
  }
  auto written = c.send_buffered("publish", deadline);
  if (!written) return written;
  const std::uint64_t last = next_publish_seq_ - 1;

  std::vector<bool> confirmed(batch.size(), false);
  std::size_t pending = batch.size();
  bool returned = false;
  auto settle = [&](std::uint64_t tag, bool multiple, bool nacked) {
    const std::uint64_t from = multiple ? first : tag;
    for (std::uint64_t t = std::max(from, first); t <= std::min(tag, last); ++t) {
      if (!confirmed[t - first]) {
        confirmed[t - first] = true;
        --pending;
        if (nacked) refused.push_back(batch[t - first]);
      }
    }
  };
  while (pending > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      c.mark_broken();
      return fail(Error::unavailable("the broker did not confirm the messages in time"));
    }
    amqp_frame_t frame;
    timeval tv = to_timeval(left);
    const int st = amqp_simple_wait_frame_noblock(s, &frame, &tv);
    if (st == AMQP_STATUS_TIMEOUT) continue;
    if (auto r = c.check_status(st, "waiting for confirms"); !r) return r;
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* a = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
        settle(a->delivery_tag, a->multiple, false);
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* n = static_cast<const amqp_basic_nack_t*>(frame.payload.method.decoded);
        settle(n->delivery_tag, n->multiple, true);
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        amqp_message_t message;
        amqp_rpc_reply_t r = amqp_read_message(s, frame.channel, &message, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
          c.mark_broken();
          return fail(Error::unavailable("broker connection lost while waiting for confirms"));
        }
        amqp_destroy_message(&message);
        returned = true;
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        c.mark_broken();
        return fail(Error::unavailable("the broker closed the publisher's channel"));
      default:
        break;
    }
  }
  amqp_maybe_release_buffers(s);
  if (returned) {
    // The queue vanished: a new connection declares it again.
    c.mark_broken();
    return fail(Error::unavailable("the task queue does not exist on the broker"));
  }
  return {};
}

Result<std::unique_ptr<TaskQueue::Consumer>> RabbitTaskQueue::consume(
    const ConsumerOptions& options) {
  return consume_from(queue_, options);
}

Result<std::unique_ptr<TaskQueue::Consumer>> RabbitTaskQueue::consume_dead_letters(
    const ConsumerOptions& options) {
  return consume_from(dead_queue_, options);
}

Result<std::unique_ptr<TaskQueue::Consumer>> RabbitTaskQueue::consume_from(
    const std::string& queue, const ConsumerOptions& options) {
  auto c = connect(queue == queue_ ? "consumer" : "dead-letter consumer");
  if (!c) return fail(c.error());
  amqp_connection_state_t s = (*c)->state();
  amqp_basic_qos(s, AmqpConnection::kChannel, 0,
                 static_cast<std::uint16_t>(std::clamp(options.prefetch, 1, 65535)), 0);
  if (auto r = (*c)->check_rpc("qos"); !r) return fail(r.error());
  amqp_basic_consume(s, AmqpConnection::kChannel, as_bytes(queue), amqp_empty_bytes, 0,
                     /*no_ack=*/0, 0, amqp_empty_table);
  if (auto r = (*c)->check_rpc("consume"); !r) return fail(r.error());
  return std::unique_ptr<Consumer>(std::make_unique<ConsumerImpl>(std::move(*c)));
}

std::optional<std::size_t> RabbitTaskQueue::depth() const {
  const auto d = depth_.load(std::memory_order_relaxed);
  if (d < 0) return std::nullopt;
  return static_cast<std::size_t>(d);
}

std::optional<std::size_t> RabbitTaskQueue::dead_letters() const {
  const auto d = dead_.load(std::memory_order_relaxed);
  if (d < 0) return std::nullopt;
  return static_cast<std::size_t>(d);
}

Result<void> RabbitTaskQueue::ping() {
  if (up_.load(std::memory_order_relaxed)) return {};
  std::lock_guard lock(monitor_mu_);
  return fail(Error::unavailable(last_error_.empty() ? "broker not reached yet" : last_error_));
}

Result<std::size_t> RabbitTaskQueue::count_dead_letters() {
  auto c = connect("inspector");
  if (!c) return fail(c.error());
  auto n = (*c)->queue_depth(dead_queue_);
  if (!n) return fail(n.error());
  return static_cast<std::size_t>(*n);
}

Result<void> RabbitTaskQueue::remove_topology(const RabbitOptions& options) {
  auto endpoint = rabbitmq::parse_url(options.url);
  if (!endpoint) return fail(endpoint.error());
  auto c = AmqpConnection::open(*endpoint, {.timeout = options.timeout, .name = "atrium admin"});
  if (!c) return fail(c.error());
  amqp_connection_state_t s = (*c)->state();
  for (const char* suffix : {".tasks", ".tasks.dead"}) {
    amqp_queue_delete(s, AmqpConnection::kChannel, as_bytes(options.prefix + suffix), 0, 0);
    if (auto r = (*c)->check_rpc("delete queue"); !r) return r;
  }
  for (const char* suffix : {".tasks.dlx", ".events"}) {
    amqp_exchange_delete(s, AmqpConnection::kChannel, as_bytes(options.prefix + suffix), 0);
    if (auto r = (*c)->check_rpc("delete exchange"); !r) return r;
  }
  return {};
}

void RabbitTaskQueue::monitor() {
  std::unique_ptr<AmqpConnection> c;
  std::unique_lock lock(monitor_mu_);
  while (!stopping_) {
    lock.unlock();
    std::string error;
    if (!c) {
      auto opened = connect("monitor");
      if (opened)
        c = std::move(*opened);
      else
        error = opened.error().detail;
    }
    if (c) {
      auto depth = c->queue_depth(queue_);
      auto dead = depth ? c->queue_depth(dead_queue_) : Result<std::uint32_t>(0);
      amqp_maybe_release_buffers(c->state());
      if (depth && dead) {
        depth_.store(*depth, std::memory_order_relaxed);
        dead_.store(*dead, std::memory_order_relaxed);
      } else {
        error = depth ? dead.error().detail : depth.error().detail;
        c.reset();
      }
    }
    const bool was_up = up_.exchange(error.empty(), std::memory_order_relaxed);
    if (was_up && !error.empty()) log::warn("broker unreachable", {{"error", error}});
    if (!was_up && error.empty()) log::info("broker reachable", {{"queue", queue_}});
    lock.lock();
    last_error_ = error;
    monitor_cv_.wait_for(lock, options_.monitor_interval, [&] { return stopping_; });
  }
}

}  // namespace atrium::broker
