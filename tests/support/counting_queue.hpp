// A TaskQueue in front of another that counts, per task, the messages published, delivered and
// settled (acknowledged, or nacked without requeue): how many messages of one task are in flight.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "broker/task_queue.hpp"

namespace atrium::testing {

class CountingQueue final : public broker::TaskQueue {
 public:
  explicit CountingQueue(broker::TaskQueue& inner, bool durable)
      : inner_(inner), durable_(durable), counts_(std::make_shared<Counts>()) {}

  struct Tally {
    int published = 0;
    int delivered = 0;
    int settled = 0;
    // Published and not yet settled: waiting, or delivered and unacknowledged.
    int in_flight() const { return published - settled; }
  };

  Tally of(const std::string& task_id) const {
    std::lock_guard lock(counts_->mu);
    auto it = counts_->by_task.find(task_id);
    return it == counts_->by_task.end() ? Tally{} : it->second;
  }

  // Counted before the inner queue has them: a consumer may take and settle a message before
  // the inner publish returns, and a tally must never see a message settled and not published.
  Result<void> publish(std::span<const broker::QueueMessage> batch) override {
    count_published(batch, +1);
    auto r = inner_.publish(batch);
    if (!r) count_published(batch, -1);
    return r;
  }

  Result<std::unique_ptr<Consumer>> consume(const broker::ConsumerOptions& options) override {
    auto c = inner_.consume(options);
    if (!c) return c;
    return std::unique_ptr<Consumer>(std::make_unique<Counted>(std::move(*c), counts_));
  }

  bool durable() const override { return durable_; }
  std::optional<std::size_t> depth() const override { return inner_.depth(); }
  Result<void> ping() override { return inner_.ping(); }

 private:
  struct Counts {
    mutable std::mutex mu;
    std::map<std::string, Tally> by_task;
  };

  void count_published(std::span<const broker::QueueMessage> batch, int step) {
    std::lock_guard lock(counts_->mu);
    for (const auto& m : batch) counts_->by_task[task_of(m)].published += step;
  }

  static std::string task_of(const broker::QueueMessage& m) {
    auto j = nlohmann::json::parse(m.body, nullptr, false);
    return j.is_object() ? j.value("task_id", "") : "";
  }

  class Counted final : public Consumer {
   public:
    Counted(std::unique_ptr<Consumer> inner, std::shared_ptr<Counts> counts)
        : inner_(std::move(inner)), counts_(std::move(counts)) {}

    Result<std::optional<broker::Delivery>> next(std::chrono::milliseconds timeout) override {
      auto d = inner_->next(timeout);
      if (d && *d) {
        std::lock_guard lock(counts_->mu);
        const std::string task = task_of((*d)->message);
        ++counts_->by_task[task].delivered;
        tasks_[(*d)->tag] = task;
      }
      return d;
    }
    Result<void> ack(std::uint64_t tag) override {
      auto r = inner_->ack(tag);
      if (r) settled(tag);
      return r;
    }
    Result<void> nack(std::uint64_t tag, bool requeue) override {
      auto r = inner_->nack(tag, requeue);
      if (r && !requeue) settled(tag);
      if (r && requeue) tasks_.erase(tag);
      return r;
    }
    Result<void> ack_all(std::span<const std::uint64_t> tags) override {
      auto r = inner_->ack_all(tags);
      if (r)
        for (auto tag : tags) settled(tag);
      return r;
    }
    void wake() override { inner_->wake(); }

   private:
    void settled(std::uint64_t tag) {
      auto it = tasks_.find(tag);
      if (it == tasks_.end()) return;
      std::lock_guard lock(counts_->mu);
      ++counts_->by_task[it->second].settled;
      tasks_.erase(it);
    }

    std::unique_ptr<Consumer> inner_;
    std::shared_ptr<Counts> counts_;
    std::map<std::uint64_t, std::string> tasks_;  // unsettled deliveries of this consumer, by tag
  };

  broker::TaskQueue& inner_;
  const bool durable_;
  std::shared_ptr<Counts> counts_;
};

}  // namespace atrium::testing
