// ControlChannel: the FTP dialog rules of docs/design.md#required-behaviour and docs/adversarial-cases.md
// cases 5, 6, 7, 8, 10, 11 and the accepted variants (EPSV ALL, multi-line replies, pipelining,
// LPRT/LPSV/228).
#include "ftpalg/ftp/control_channel.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <type_traits>

namespace ftpalg {
namespace {

using namespace std::string_literals;
using Kind = LineMeaning::Kind;

constexpr std::string_view kGreeting = "220 ftp.example.net FTP server ready";
constexpr std::string_view kPort = "PORT 192,168,77,10,195,80";
constexpr std::string_view kReply227 = "227 Entering Passive Mode (203,0,113,10,195,80).";
constexpr std::string_view kReply229 = "229 Entering Extended Passive Mode (|||50001|)";

ControlChannel greetedChannel(IpFamily family = IpFamily::V4) {
  ControlChannel channel(family);
  EXPECT_EQ(channel.onServerLine(kGreeting).kind, Kind::GreetingSeen);
  return channel;
}

std::string kindName(Kind kind) {
  switch (kind) {
    case Kind::Nothing: return "Nothing";
    case Kind::Announcement: return "Announcement";
    case Kind::Refused: return "Refused";
    case Kind::BecameOpaque: return "BecameOpaque";
    case Kind::BecameNotFtp: return "BecameNotFtp";
    case Kind::GreetingSeen: return "GreetingSeen";
  }
  return "?";
}

void expectKind(const LineMeaning& meaning, Kind expected) {
  EXPECT_EQ(kindName(meaning.kind), kindName(expected));
}

void expectRefused(const LineMeaning& meaning, AddressVerb verb, ChannelRefusal refusal) {
  ASSERT_EQ(kindName(meaning.kind), kindName(Kind::Refused));
  EXPECT_EQ(verbName(meaning.verb), verbName(verb));
  EXPECT_EQ(channelRefusalName(meaning.refusal), channelRefusalName(refusal));
}

void expectSyntaxRefusal(const LineMeaning& meaning, AddressVerb verb, AddressSyntaxError error) {
  expectRefused(meaning, verb, ChannelRefusal::Syntax);
  ASSERT_TRUE(meaning.syntaxError.has_value());
  EXPECT_EQ(syntaxErrorName(*meaning.syntaxError), syntaxErrorName(error));
}

void expectAnnouncement(const LineMeaning& meaning, AddressVerb verb, std::uint16_t port) {
  ASSERT_EQ(kindName(meaning.kind), kindName(Kind::Announcement));
  EXPECT_EQ(verbName(meaning.verb), verbName(verb));
  EXPECT_EQ(meaning.address.port, port);
}

// --- greeting and slipstreaming (docs/adversarial-cases.md case 10) ----------------------------

TEST(Greeting, Reply220StartsInspection) {
  ControlChannel channel(IpFamily::V4);
  EXPECT_EQ(channel.state(), ChannelState::AwaitingGreeting);
  expectKind(channel.onServerLine(kGreeting), Kind::GreetingSeen);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
}

TEST(Greeting, Preliminary120ThenReply220StartsInspection) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onServerLine("120 Service ready in 1 minute"), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::AwaitingGreeting);
  expectKind(channel.onServerLine(kGreeting), Kind::GreetingSeen);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
}

TEST(Greeting, MultiLine120ThenReply220StartsInspection) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onServerLine("120-Service ready soon"), Kind::Nothing);
  expectKind(channel.onServerLine("500 not a greeting, just text of the 120 reply"), Kind::Nothing);
  expectKind(channel.onServerLine("120 Service ready in 1 minute"), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::AwaitingGreeting);
  expectKind(channel.onServerLine(kGreeting), Kind::GreetingSeen);
}

TEST(Greeting, MultiLineGreetingAnswersNoCommand) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onServerLine("220-Welcome"), Kind::GreetingSeen);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
  // An eager client sends PASV before the greeting ends; the greeting's last line must not
  // consume it.
  expectKind(channel.onClientLine("PASV"), Kind::Nothing);
  expectKind(channel.onServerLine("220-Authorised use only"), Kind::Nothing);
  expectKind(channel.onServerLine("220 ready"), Kind::Nothing);
  EXPECT_FALSE(channel.inMultiLineReply());
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

struct NotFtpCase {
  const char* name;
  std::string line;
};

class FirstServerLine : public ::testing::TestWithParam<NotFtpCase> {};

TEST_P(FirstServerLine, ThatIsNot1xxOr220MakesTheSessionNotFtp) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onServerLine(GetParam().line), Kind::BecameNotFtp);
  EXPECT_EQ(channel.state(), ChannelState::NotFtp);
}

INSTANTIATE_TEST_SUITE_P(ControlChannel, FirstServerLine,
                         ::testing::Values(NotFtpCase{"reply_421", "421 Too many connections"},
                                           NotFtpCase{"reply_230", "230 Logged in"},
                                           NotFtpCase{"reply_227", std::string(kReply227)},
                                           NotFtpCase{"ssh_banner", "SSH-2.0-OpenSSH_9.2p1"},
                                           NotFtpCase{"http_status", "HTTP/1.1 200 OK"},
                                           NotFtpCase{"empty_line", ""}),
                         [](const ::testing::TestParamInfo<NotFtpCase>& param) {
                           return std::string(param.param.name);
                         });

TEST(Greeting, ClientLineBeforeGreetingMakesTheSessionNotFtp) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onClientLine("USER anonymous"), Kind::BecameNotFtp);
  EXPECT_EQ(channel.state(), ChannelState::NotFtp);
}

TEST(Greeting, SlipstreamedHttpPostNeverAnnouncesEvenAfterAGreeting) {
  ControlChannel channel(IpFamily::V4);
  expectKind(channel.onClientLine("POST /upload HTTP/1.1"), Kind::BecameNotFtp);
  expectKind(channel.onClientLine("Host: 203.0.113.10:21"), Kind::Nothing);
  expectKind(channel.onClientLine("Content-Length: 4096"), Kind::Nothing);
  expectKind(channel.onClientLine(""), Kind::Nothing);
  expectKind(channel.onClientLine(std::string(1400, 'A')), Kind::Nothing);
  expectKind(channel.onClientLine(kPort), Kind::Nothing);
  expectKind(channel.onServerLine(kGreeting), Kind::Nothing);
  expectKind(channel.onClientLine(kPort), Kind::Nothing);
  expectKind(channel.onClientLine("PASV"), Kind::Nothing);
  expectKind(channel.onServerLine(kReply227), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::NotFtp);
}

TEST(Greeting, ClientBytesBeforeGreetingMakeTheSessionNotFtpEvenMidLine) {
  ControlChannel channel(IpFamily::V4);
  EXPECT_TRUE(channel.clientSpokeFirst());
  EXPECT_EQ(channel.state(), ChannelState::NotFtp);
  EXPECT_FALSE(channel.clientSpokeFirst());
  expectKind(channel.onServerLine(kGreeting), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::NotFtp);
}

TEST(Greeting, ClientBytesAfterGreetingChangeNothing) {
  ControlChannel channel = greetedChannel();
  EXPECT_FALSE(channel.clientSpokeFirst());
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
}

// --- PORT / EPRT from the client --------------------------------------------------------------

TEST(ClientCommands, PortIsAnAnnouncementWithValueAndSpan) {
  ControlChannel channel = greetedChannel();
  const LineMeaning meaning = channel.onClientLine(kPort);
  expectAnnouncement(meaning, AddressVerb::Port, 50000);
  EXPECT_EQ(meaning.address.address, IpAddress::parse("192.168.77.10"));
  EXPECT_EQ(kPort.substr(meaning.address.spanBegin, meaning.address.spanEnd - meaning.address.spanBegin),
            "192,168,77,10,195,80");
}

TEST(ClientCommands, KeywordsMatchInAnyCase) {
  ControlChannel channel = greetedChannel();
  expectAnnouncement(channel.onClientLine("port 192,168,77,10,195,80"), AddressVerb::Port, 50000);
  expectAnnouncement(channel.onClientLine("Eprt |1|192.168.77.10|50001|"), AddressVerb::Eprt, 50001);
}

TEST(ClientCommands, EprtV6OnAnIpv6ControlConnectionIsAnAnnouncement) {
  ControlChannel channel = greetedChannel(IpFamily::V6);
  const LineMeaning meaning = channel.onClientLine("EPRT |2|2001:db8:77::10|50000|");
  expectAnnouncement(meaning, AddressVerb::Eprt, 50000);
  EXPECT_EQ(meaning.address.address, IpAddress::parse("2001:db8:77::10"));
}

TEST(ClientCommands, PortWithBadSyntaxIsRefusedWithTheCodecError) {
  ControlChannel channel = greetedChannel();
  expectSyntaxRefusal(channel.onClientLine("PORT 192,168,77,10,256,22"), AddressVerb::Port,
                      AddressSyntaxError::OctetOutOfRange);
  expectSyntaxRefusal(channel.onClientLine("EPRT |2|fe80::1%eth0|50000|"), AddressVerb::Eprt,
                      AddressSyntaxError::ZoneId);
}

TEST(ClientCommands, EprtFamilyDifferentFromTheControlConnectionIsFamilyMismatch) {
  ControlChannel v4 = greetedChannel(IpFamily::V4);
  expectRefused(v4.onClientLine("EPRT |2|2001:db8::10|50000|"), AddressVerb::Eprt,
                ChannelRefusal::FamilyMismatch);
  ControlChannel v6 = greetedChannel(IpFamily::V6);
  expectRefused(v6.onClientLine("EPRT |1|192.168.77.10|50000|"), AddressVerb::Eprt,
                ChannelRefusal::FamilyMismatch);
}

TEST(ClientCommands, PortOnAnIpv6ControlConnectionIsFamilyMismatch) {
  ControlChannel channel = greetedChannel(IpFamily::V6);
  expectRefused(channel.onClientLine(kPort), AddressVerb::Port, ChannelRefusal::FamilyMismatch);
}

struct ObscuredKeywordCase {
  const char* name;
  std::string line;
  AddressVerb verb;
};

class KeywordWithHiddenBytes : public ::testing::TestWithParam<ObscuredKeywordCase> {};

TEST_P(KeywordWithHiddenBytes, SpellingPortOrEprtIsRefusedAsNonPrintable) {
  ControlChannel channel = greetedChannel();
  expectSyntaxRefusal(channel.onClientLine(GetParam().line), GetParam().verb,
                      AddressSyntaxError::NonPrintable);
}

INSTANTIATE_TEST_SUITE_P(
    ControlChannel, KeywordWithHiddenBytes,
    ::testing::Values(ObscuredKeywordCase{"iac_ip", "P\xFF\xF4ORT 192,168,77,10,195,80", AddressVerb::Port},
                      ObscuredKeywordCase{"iac_iac", "PO\xFF\xFFRT 192,168,77,10,195,80", AddressVerb::Port},
                      ObscuredKeywordCase{"nul", "PO\0RT 192,168,77,10,195,80"s, AddressVerb::Port},
                      ObscuredKeywordCase{"eight_bit_lower", "po\xA0rt 192,168,77,10,195,80",
                                          AddressVerb::Port},
                      ObscuredKeywordCase{"telnet_synch_prefix",
                                          "\xFF\xF2"
                                          "EPRT |1|192.168.77.10|50000|",
                                          AddressVerb::Eprt},
                      ObscuredKeywordCase{"nul_eprt", "EPR\0T |1|192.168.77.10|50000|"s, AddressVerb::Eprt}),
    [](const ::testing::TestParamInfo<ObscuredKeywordCase>& param) { return std::string(param.param.name); });

struct OrdinaryLineCase {
  const char* name;
  std::string line;
};

class OrdinaryClientLine : public ::testing::TestWithParam<OrdinaryLineCase> {};

TEST_P(OrdinaryClientLine, ThatOnlyContainsAddressTextIsNothing) {
  ControlChannel channel = greetedChannel();
  expectKind(channel.onClientLine(GetParam().line), Kind::Nothing);
}

INSTANTIATE_TEST_SUITE_P(
    ControlChannel, OrdinaryClientLine,
    ::testing::Values(OrdinaryLineCase{"noop_port", "NOOP PORT 192,168,77,10,195,80"},
                      OrdinaryLineCase{"site_227", "SITE x 227 Entering Passive Mode (203,0,113,10,195,80)"},
                      OrdinaryLineCase{"leading_space_port", " PORT 192,168,77,10,195,80"},
                      OrdinaryLineCase{"tab_port", "PORT\t192,168,77,10,195,80"},
                      OrdinaryLineCase{"stor_named_port", "STOR PORT 192,168,77,10,195,80"},
                      OrdinaryLineCase{"five_letter_keyword", "PORTS 192,168,77,10,195,80"},
                      OrdinaryLineCase{"empty", ""}),
    [](const ::testing::TestParamInfo<OrdinaryLineCase>& param) { return std::string(param.param.name); });

// --- direction (docs/adversarial-cases.md case 6) ----------------------------------------------

TEST(Direction, Reply227FromTheClientIsWrongDirection) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onClientLine(kReply227), AddressVerb::Reply227, ChannelRefusal::WrongDirection);
}

TEST(Direction, Reply229FromTheClientIsWrongDirection) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onClientLine(kReply229), AddressVerb::Reply229, ChannelRefusal::WrongDirection);
}

TEST(Direction, PortFromTheServerIsWrongDirection) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onServerLine(kPort), AddressVerb::Port, ChannelRefusal::WrongDirection);
  expectRefused(channel.onServerLine("eprt |1|203.0.113.10|50000|"), AddressVerb::Eprt,
                ChannelRefusal::WrongDirection);
}

TEST(Direction, PortTextInsideAServerReplyIsNothing) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine(kPort);
  expectKind(channel.onServerLine("200 PORT 192,168,77,10,195,80 command successful"), Kind::Nothing);
}

// --- reply correlation (docs/adversarial-cases.md cases 6, 12) --------------------------------

TEST(Correlation, Reply227AnsweringPasvIsAnAnnouncementWithValueAndSpan) {
  ControlChannel channel = greetedChannel();
  expectKind(channel.onClientLine("PASV"), Kind::Nothing);
  EXPECT_TRUE(channel.replyAnnouncementPossible());
  const LineMeaning meaning = channel.onServerLine(kReply227);
  expectAnnouncement(meaning, AddressVerb::Reply227, 50000);
  EXPECT_EQ(meaning.address.address, IpAddress::parse("203.0.113.10"));
  EXPECT_EQ(kReply227.substr(meaning.address.spanBegin, meaning.address.spanEnd - meaning.address.spanBegin),
            "203,0,113,10,195,80");
  EXPECT_FALSE(channel.replyAnnouncementPossible());
}

TEST(Correlation, Reply229AnsweringEpsvIsAnAnnouncementWithoutAddress) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV");
  const LineMeaning meaning = channel.onServerLine(kReply229);
  expectAnnouncement(meaning, AddressVerb::Reply229, 50001);
  EXPECT_FALSE(meaning.address.address.has_value());
}

TEST(Correlation, UnsolicitedReply227IsRefused) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, UnsolicitedReply229IsRefused) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("NOOP");
  expectRefused(channel.onServerLine(kReply229), AddressVerb::Reply229, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, SecondReply227ToOnePasvIsUnsolicited) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, Reply229AnsweringPasvIsUnsolicited) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectRefused(channel.onServerLine(kReply229), AddressVerb::Reply229, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, Reply227AnsweringEpsvIsUnsolicited) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV");
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, PasvAnsweredByAnErrorIsConsumed) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectKind(channel.onServerLine("425 Cannot open passive connection"), Kind::Nothing);
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, Reply227WithoutNumbersIsRefusedAsNoNumbers) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectSyntaxRefusal(channel.onServerLine("227 Logout."), AddressVerb::Reply227,
                      AddressSyntaxError::NoNumbers);
}

TEST(Correlation, Reply227OnAnIpv6ControlConnectionIsFamilyMismatch) {
  ControlChannel channel = greetedChannel(IpFamily::V6);
  channel.onClientLine("PASV");
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::FamilyMismatch);
}

TEST(Correlation, Reply227AnswersTheOldestPendingCommandOnly) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("TYPE I");
  channel.onClientLine("PASV");
  EXPECT_FALSE(channel.replyAnnouncementPossible());
  // A 227 arriving where TYPE's answer is due does not answer the PASV.
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, Reply227AfterEarlierRepliesAnswersPasv) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("TYPE I");
  channel.onClientLine("PASV");
  expectKind(channel.onServerLine("200 Switching to Binary mode."), Kind::Nothing);
  EXPECT_TRUE(channel.replyAnnouncementPossible());
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Correlation, PreliminaryRepliesDoNotConsumePendingCommands) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectKind(channel.onServerLine("120 Wait a moment"), Kind::Nothing);
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Correlation, PipelinedPasvAndListThenRepliesAnnounceOnce) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("TYPE I");
  channel.onClientLine("PASV");
  channel.onClientLine("LIST");
  EXPECT_EQ(channel.pendingCommandCount(), 3u);
  expectKind(channel.onServerLine("200 Type set to I"), Kind::Nothing);
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
  expectKind(channel.onServerLine("150 Here comes the directory listing."), Kind::Nothing);
  expectKind(channel.onServerLine("226 Directory send OK."), Kind::Nothing);
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Correlation, EveryClientLineAwaitsAReplyEvenUnknownOnes) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("XYZZY");
  channel.onClientLine("");
  channel.onClientLine(
      "\xFF\xF4\xFF\xF2"
      "ABOR");
  channel.onClientLine("PASV");
  EXPECT_EQ(channel.pendingCommandCount(), 4u);
  channel.onServerLine("500 Unknown command.");
  channel.onServerLine("500 Unknown command.");
  channel.onServerLine("226 ABOR successful");
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Correlation, BareReplyCodeAnswersACommand) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("NOOP");
  channel.onClientLine("PASV");
  channel.onServerLine("200");
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Correlation, ServerLinesThatAreNotRepliesAnswerNothing) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectKind(channel.onServerLine("hello there"), Kind::Nothing);
  expectKind(channel.onServerLine("999 not a reply code"), Kind::Nothing);
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Correlation, ErrorReplyEchoingA227IsNothing) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectKind(
      channel.onServerLine("500 '227 Entering Passive Mode (203,0,113,10,195,80)': command not understood"),
      Kind::Nothing);
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
}

// --- multi-line replies (RFC 959 §4.2, docs/adversarial-cases.md case 7) ----------------------

TEST(MultiLine, FirstLineOfAMultiLine227AnnouncesAndTheFinalLineConsumes) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectAnnouncement(channel.onServerLine("227-Entering Passive Mode (203,0,113,10,195,80)"),
                     AddressVerb::Reply227, 50000);
  EXPECT_TRUE(channel.inMultiLineReply());
  EXPECT_FALSE(channel.replyAnnouncementPossible());
  EXPECT_EQ(channel.pendingCommandCount(), 1u);
  expectKind(channel.onServerLine("Data connection ready"), Kind::Nothing);
  expectRefused(channel.onServerLine("227 Entering Passive Mode (203,0,113,10,195,81)"),
                AddressVerb::Reply227, ChannelRefusal::ContinuationLine);
  EXPECT_FALSE(channel.inMultiLineReply());
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
}

TEST(MultiLine, Reply227OnAContinuationLineIsRefused) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  expectKind(channel.onServerLine("250-Status follows"), Kind::Nothing);
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::ContinuationLine);
  expectRefused(channel.onServerLine("227-Entering Passive Mode (203,0,113,10,195,80)"),
                AddressVerb::Reply227, ChannelRefusal::ContinuationLine);
  expectKind(channel.onServerLine("250 End"), Kind::Nothing);
  // The 250 answered the PASV.
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(MultiLine, Reply229OnAContinuationLineIsRefused) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV");
  expectKind(channel.onServerLine("211-Features"), Kind::Nothing);
  expectRefused(channel.onServerLine(kReply229), AddressVerb::Reply229, ChannelRefusal::ContinuationLine);
  expectKind(channel.onServerLine("211 End"), Kind::Nothing);
}

TEST(MultiLine, ContinuationLineWith227CodeButNoNumbersIsNothing) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("HELP");
  channel.onServerLine("214-Commands");
  expectKind(channel.onServerLine("227 is the passive mode reply"), Kind::Nothing);
  channel.onServerLine("214 End");
}

TEST(MultiLine, OtherCodesInsideDoNotEndTheReply) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("NOOP");
  channel.onClientLine("PASV");
  channel.onServerLine("200-first");
  channel.onServerLine("230 looks final but is text");
  channel.onServerLine("200-still text");
  EXPECT_TRUE(channel.inMultiLineReply());
  EXPECT_FALSE(channel.replyAnnouncementPossible());
  expectKind(channel.onServerLine("200 done"), Kind::Nothing);
  EXPECT_FALSE(channel.inMultiLineReply());
  EXPECT_TRUE(channel.replyAnnouncementPossible());
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(MultiLine, PortTextOnAContinuationLineIsWrongDirection) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("STAT");
  channel.onServerLine("211-Status");
  expectRefused(channel.onServerLine(kPort), AddressVerb::Port, ChannelRefusal::WrongDirection);
  channel.onServerLine("211 End");
}

TEST(MultiLine, UnsolicitedMultiLine227IsRefusedOnItsFirstLine) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onServerLine("227-Entering Passive Mode (203,0,113,10,195,80)"),
                AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

// --- EPSV variants (RFC 2428 §3, §4) ----------------------------------------------------------

class EpsvArgument : public ::testing::TestWithParam<const char*> {};

TEST_P(EpsvArgument, ThatNamesAProtocolAwaitsA229) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine(GetParam());
  EXPECT_FALSE(channel.epsvAll());
  expectAnnouncement(channel.onServerLine(kReply229), AddressVerb::Reply229, 50001);
}

INSTANTIATE_TEST_SUITE_P(ControlChannel, EpsvArgument,
                         ::testing::Values("EPSV", "EPSV 1", "EPSV 2", "epsv 2"));

TEST(EpsvAll, RefusesPortEprtAndPasvAfterwards) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV ALL");
  EXPECT_TRUE(channel.epsvAll());
  channel.onServerLine("200 EPSV ALL ok.");
  expectRefused(channel.onClientLine(kPort), AddressVerb::Port, ChannelRefusal::AfterEpsvAll);
  expectRefused(channel.onClientLine("EPRT |1|192.168.77.10|50000|"), AddressVerb::Eprt,
                ChannelRefusal::AfterEpsvAll);
  expectRefused(channel.onClientLine("PASV"), AddressVerb::Reply227, ChannelRefusal::AfterEpsvAll);
}

TEST(EpsvAll, Reply227ToAPasvRefusedAfterEpsvAllIsUnsolicited) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("epsv all");
  channel.onServerLine("200 EPSV ALL ok.");
  channel.onClientLine("PASV");
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(EpsvAll, EpsvStillWorks) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV ALL");
  channel.onServerLine("200 EPSV ALL ok.");
  channel.onClientLine("EPSV");
  expectAnnouncement(channel.onServerLine(kReply229), AddressVerb::Reply229, 50001);
}

// --- LPRT / LPSV / 228 (RFC 1639) -------------------------------------------------------------

TEST(LongAddress, LprtIsNotTranslated) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onClientLine("LPRT 4,4,192,168,77,10,2,195,80"), AddressVerb::Lprt,
                ChannelRefusal::NotTranslated);
}

TEST(LongAddress, LpsvIsNotTranslated) {
  ControlChannel channel = greetedChannel();
  expectRefused(channel.onClientLine("LPSV"), AddressVerb::Lpsv, ChannelRefusal::NotTranslated);
}

TEST(LongAddress, Reply228IsNotTranslated) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("LPSV");
  expectRefused(channel.onServerLine("228 Entering Long Passive Mode (4,4,203,0,113,10,2,195,80)"),
                AddressVerb::Reply228, ChannelRefusal::NotTranslated);
}

// --- AUTH / TLS (RFC 4217, docs/adversarial-cases.md case 11) ---------------------------------

TEST(Auth, Reply234ToAuthMakesTheChannelOpaque) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  expectKind(channel.onServerLine("234 Proceed with negotiation."), Kind::BecameOpaque);
  EXPECT_EQ(channel.state(), ChannelState::Opaque);
}

TEST(Auth, OpaqueChannelParsesNothing) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  channel.onServerLine("234 Proceed with negotiation.");
  expectKind(channel.onClientLine(kPort), Kind::Nothing);
  expectKind(channel.onClientLine("PASV"), Kind::Nothing);
  expectKind(channel.onServerLine(kReply227), Kind::Nothing);
  EXPECT_FALSE(channel.replyAnnouncementPossible());
}

TEST(Auth, AuthRefusedKeepsTheChannelInCleartext) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  expectKind(channel.onServerLine("504 Security mechanism not understood"), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
  expectAnnouncement(channel.onClientLine(kPort), AddressVerb::Port, 50000);
}

TEST(Auth, MultiLine234BecomesOpaqueAtItsFinalLine) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  expectKind(channel.onServerLine("234-Proceed"), Kind::Nothing);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
  expectKind(channel.onServerLine("234 with negotiation"), Kind::BecameOpaque);
  EXPECT_EQ(channel.state(), ChannelState::Opaque);
}

TEST(Auth, Reply234ThatNoAuthIsPairedWithStillMakesTheChannelOpaque) {
  // Fail closed: missing a TLS start would parse handshake bytes as commands.
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  channel.onClientLine("REIN");
  expectKind(channel.onServerLine("234 Proceed with negotiation."), Kind::BecameOpaque);
}

TEST(Auth, ResumeCleartextReturnsToInspectingWithNothingPending) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  channel.onServerLine("234 Proceed with negotiation.");
  channel.resumeCleartext();
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
  expectAnnouncement(channel.onClientLine(kPort), AddressVerb::Port, 50000);
}

TEST(Auth, ResumeCleartextOutsideOpaqueChangesNothing) {
  ControlChannel channel(IpFamily::V4);
  channel.resumeCleartext();
  EXPECT_EQ(channel.state(), ChannelState::AwaitingGreeting);
}

// --- REIN (RFC 959 §4.1.1) ---------------------------------------------------------------------

TEST(Rein, ClearsEpsvAll) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV ALL");
  channel.onServerLine("200 EPSV ALL ok.");
  channel.onClientLine("REIN");
  EXPECT_FALSE(channel.epsvAll());
  channel.onServerLine("220 Service ready for new user.");
  expectAnnouncement(channel.onClientLine(kPort), AddressVerb::Port, 50000);
}

TEST(Rein, ClearsPendingCommands) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("PASV");
  channel.onClientLine("REIN");
  EXPECT_EQ(channel.pendingCommandCount(), 1u);
  EXPECT_FALSE(channel.replyAnnouncementPossible());
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(Rein, ClearsAPendingAuth) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("AUTH TLS");
  channel.onClientLine("REIN");
  expectKind(channel.onServerLine("220 Service ready for new user."), Kind::Nothing);
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
  EXPECT_EQ(channel.state(), ChannelState::Inspecting);
}

// --- replyAnnouncementPossible and bounds ------------------------------------------------------

TEST(AnnouncementPossible, IsFalseBeforeTheGreeting) {
  ControlChannel channel(IpFamily::V4);
  EXPECT_FALSE(channel.replyAnnouncementPossible());
}

TEST(AnnouncementPossible, IsFalseWithNothingPending) {
  ControlChannel channel = greetedChannel();
  EXPECT_FALSE(channel.replyAnnouncementPossible());
}

TEST(AnnouncementPossible, IsTrueForPendingEpsv) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("EPSV");
  EXPECT_TRUE(channel.replyAnnouncementPossible());
}

TEST(AnnouncementPossible, IsFalseWhenPasvIsNotTheOldestPendingCommand) {
  ControlChannel channel = greetedChannel();
  channel.onClientLine("NOOP");
  channel.onClientLine("PASV");
  EXPECT_FALSE(channel.replyAnnouncementPossible());
}

TEST(PassiveReplyAwaited, IsTrueWhilePasvOrEpsvIsPendingAnywhereAmongTheCommands) {
  ControlChannel channel = greetedChannel();
  EXPECT_FALSE(channel.passiveReplyAwaited());
  channel.onClientLine("NOOP");
  EXPECT_FALSE(channel.passiveReplyAwaited());
  channel.onClientLine("PASV");
  EXPECT_FALSE(channel.replyAnnouncementPossible());
  EXPECT_TRUE(channel.passiveReplyAwaited()) << "the PASV is second: its 227 may follow the NOOP's reply";
  channel.onServerLine("200 NOOP ok.");
  EXPECT_TRUE(channel.passiveReplyAwaited());
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
  EXPECT_FALSE(channel.passiveReplyAwaited());
  channel.onClientLine("EPSV");
  EXPECT_TRUE(channel.passiveReplyAwaited());
}

TEST(PassiveReplyAwaited, CommandsBeyondTheRingAreNeverPassive) {
  ControlChannel channel = greetedChannel();
  for (int i = 0; i < 20; ++i) channel.onClientLine("NOOP");
  channel.onClientLine("PASV");  // beyond the ring: only counted, re-enters as Other
  EXPECT_FALSE(channel.passiveReplyAwaited());
}

TEST(PendingRing, SixteenPipelinedCommandsKeepTheirKinds) {
  ControlChannel channel = greetedChannel();
  for (int i = 0; i < 15; ++i) channel.onClientLine("NOOP");
  channel.onClientLine("PASV");
  for (int i = 0; i < 15; ++i) channel.onServerLine("200 NOOP ok.");
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(PendingRing, CommandsBeyondTheRingCannotBeAnsweredBy227) {
  ControlChannel channel = greetedChannel();
  for (int i = 0; i < 20; ++i) channel.onClientLine("NOOP");
  channel.onClientLine("PASV");
  EXPECT_EQ(channel.pendingCommandCount(), 21u);
  for (int i = 0; i < 20; ++i) channel.onServerLine("200 NOOP ok.");
  EXPECT_EQ(channel.pendingCommandCount(), 1u);
  expectRefused(channel.onServerLine(kReply227), AddressVerb::Reply227, ChannelRefusal::UnsolicitedReply);
}

TEST(PendingRing, PairingStaysExactAfterAnOverflow) {
  ControlChannel channel = greetedChannel();
  for (int i = 0; i < 40; ++i) channel.onClientLine("NOOP");
  for (int i = 0; i < 40; ++i) channel.onServerLine("200 NOOP ok.");
  EXPECT_EQ(channel.pendingCommandCount(), 0u);
  channel.onClientLine("PASV");
  expectAnnouncement(channel.onServerLine(kReply227), AddressVerb::Reply227, 50000);
}

TEST(Footprint, ChannelIsSmallAndOwnsNoHeap) {
  static_assert(std::is_trivially_copyable_v<ControlChannel>);
  static_assert(std::is_trivially_destructible_v<ControlChannel>);
  EXPECT_LE(sizeof(ControlChannel), 40u);
}

TEST(Names, StatesAndRefusalsHaveStableNames) {
  EXPECT_EQ(channelStateName(ChannelState::AwaitingGreeting), "awaiting_greeting");
  EXPECT_EQ(channelStateName(ChannelState::Inspecting), "inspecting");
  EXPECT_EQ(channelStateName(ChannelState::Opaque), "opaque");
  EXPECT_EQ(channelStateName(ChannelState::NotFtp), "not_ftp");
  EXPECT_EQ(channelRefusalName(ChannelRefusal::UnsolicitedReply), "unsolicited_reply");
  EXPECT_EQ(channelRefusalName(ChannelRefusal::ContinuationLine), "continuation_line");
  EXPECT_EQ(channelRefusalName(ChannelRefusal::NotTranslated), "not_translated");
}

}  // namespace
}  // namespace ftpalg
