// TCP acceptability: see include/ftpalg/tcp/tcp_window.hpp.
#include "ftpalg/tcp/tcp_window.hpp"

#include <algorithm>

namespace ftpalg {

namespace {

// Conntrack's MAXACKWINCONST: the least slack bound IV allows for acknowledgements of old data.
constexpr std::int64_t kMinAckWindow = 66000;

bool ackPlausible(const TcpSegmentInfo& segment, const TcpDirectionWindow& theirs) {
  if (!segment.ack) return true;
  const std::int64_t ack = *segment.ack;
  return ack <= theirs.sentEnd && ack >= theirs.sentEnd - std::max(theirs.maxWindow, kMinAckWindow);
}

}  // namespace

bool tcpSegmentPlausible(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                         const TcpDirectionWindow& theirs) {
  if (mine.windowEnd && segment.seq > *mine.windowEnd) return false;                      // I
  if (mine.maxWindow > 0 && segment.end() < mine.sentEnd - mine.maxWindow) return false;  // II
  return ackPlausible(segment, theirs);                                                   // III, IV
}

void tcpRecordSegment(const TcpSegmentInfo& segment, TcpDirectionWindow& mine, TcpDirectionWindow& theirs) {
  mine.sentEnd = std::max(mine.sentEnd, segment.end());
  if (!segment.ack) return;
  theirs.acked = theirs.acked ? std::max(*theirs.acked, *segment.ack) : *segment.ack;
  theirs.windowEnd = theirs.windowEnd ? std::max(*theirs.windowEnd, segment.windowEnd) : segment.windowEnd;
  theirs.maxWindow = std::max(theirs.maxWindow, segment.window);
}

bool tcpResetAcceptable(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                        const TcpDirectionWindow& theirs) {
  if (!ackPlausible(segment, theirs)) return false;
  if (!mine.acked) return segment.ack && *segment.ack == theirs.sentEnd;
  return segment.seq >= *mine.acked && segment.seq <= std::max(mine.sentEnd, *mine.acked);
}

bool tcpFinAcceptable(const TcpSegmentInfo& segment, const TcpDirectionWindow& mine,
                      const TcpDirectionWindow& theirs) {
  if (!segment.fin || !mine.acked || !tcpSegmentPlausible(segment, mine, theirs)) return false;
  const std::int64_t finOffset = segment.end() - 1;
  return finOffset >= *mine.acked - 1;
}

}  // namespace ftpalg
