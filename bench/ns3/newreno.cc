// The reference the lab's congestion control is compared with: ns-3's TcpNewReno moving a bulk
// transfer over one point-to-point link with a drop-tail queue (and, optionally, random loss on
// the data's way), printed as one JSON line. Built and run by bench/ns3.ts when Debian's ns-3
// (packages ns3, libns3-dev) is installed.
//
// Segments of 1164 bytes (the lab's payload at its default 1200-byte datagrams), an initial window
// of 4, SACK, 64 MiB socket buffers so that only the network limits the window, and the queue of
// the bottleneck device itself: the traffic-control layer's own queue is taken away, so that the
// device's drop-tail queue of `--queue` packets is the only one, as in the lab.

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <cstdio>

using namespace ns3;

/**
 * NewReno with its slow-start threshold from FlightSize, as RFC 5681 (3.2) says: ns-3's own takes
 * half its RFC 6675 pipe, which leaves out the segments SACKed or lost, so it cuts deeper at
 * every loss. Chosen with --ssthresh=flight, to tell that difference apart from any other.
 */
class TcpNewRenoFlightSize : public TcpNewReno {
 public:
  static TypeId GetTypeId() {
    static TypeId tid = TypeId("TcpNewRenoFlightSize").SetParent<TcpNewReno>().AddConstructor<TcpNewRenoFlightSize>();
    return tid;
  }
  uint32_t GetSsThresh(Ptr<const TcpSocketState> tcb, uint32_t) override {
    uint32_t flight = tcb->m_highTxMark.Get() - tcb->m_lastAckedSeq;
    return std::max(2 * tcb->m_segmentSize, flight / 2);
  }
  Ptr<TcpCongestionOps> Fork() override { return CopyObject<TcpNewRenoFlightSize>(this); }
};

static uint64_t g_bytes = 0;
static uint64_t g_received = 0;
static double g_firstTx = -1;
static double g_done = -1;

static void OnTx(Ptr<const Packet>) {
  if (g_firstTx < 0) g_firstTx = Simulator::Now().GetSeconds();
}

static void OnRx(Ptr<const Packet> p, const Address &) {
  g_received += p->GetSize();
  if (g_done < 0 && g_received >= g_bytes) g_done = Simulator::Now().GetSeconds();
}

static uint32_t g_timeouts = 0;
static uint32_t g_recoveries = 0;
static void OnCongState(TcpSocketState::TcpCongState_t, TcpSocketState::TcpCongState_t now) {
  if (now == TcpSocketState::CA_LOSS) g_timeouts++;
  if (now == TcpSocketState::CA_RECOVERY) g_recoveries++;
}
static void WatchSender() {
  Config::ConnectWithoutContext("/NodeList/0/$ns3::TcpL4Protocol/SocketList/0/CongState", MakeCallback(&OnCongState));
}
static uint32_t g_lost = 0;
static void OnErrorDrop(Ptr<const Packet>) { g_lost++; }

int main(int argc, char *argv[]) {
  uint64_t bytes = 100000000;
  double rateBps = 1e9;
  double revRateBps = 1e8;
  double delayMs = 5;
  uint32_t queue = 1000;
  double loss = 0;
  uint32_t seed = 1;
  uint32_t delAckCount = 2;
  double minRtoMs = 1000;
  std::string ssthresh = "pipe";
  CommandLine cmd;
  cmd.AddValue("bytes", "bytes to transfer", bytes);
  cmd.AddValue("rate", "forward link rate, bit/s", rateBps);
  cmd.AddValue("rev-rate", "reverse link rate, bit/s", revRateBps);
  cmd.AddValue("delay", "one-way delay, ms", delayMs);
  cmd.AddValue("queue", "drop-tail queue of each device, packets", queue);
  cmd.AddValue("loss", "probability that a packet on the data's way is lost", loss);
  cmd.AddValue("seed", "run number of the random streams", seed);
  cmd.AddValue("del-ack-count", "segments per ACK (ns-3's default 2; the lab ACKs every one)", delAckCount);
  cmd.AddValue("min-rto", "lower bound of the RTO, ms (ns-3's default 1000; the lab's 200)", minRtoMs);
  cmd.AddValue("ssthresh", "pipe (ns-3's TcpNewReno) or flight (RFC 5681's FlightSize)", ssthresh);
  cmd.Parse(argc, argv);
  if (ssthresh != "pipe" && ssthresh != "flight") {
    std::fprintf(stderr, "--ssthresh must be pipe or flight (got %s)\n", ssthresh.c_str());
    return 2;
  }
  g_bytes = bytes;
  RngSeedManager::SetSeed(1);
  RngSeedManager::SetRun(seed);

  Config::SetDefault("ns3::TcpL4Protocol::SocketType", TypeIdValue(ssthresh == "flight" ? TcpNewRenoFlightSize::GetTypeId() : TcpNewReno::GetTypeId()));
  Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1164));
  Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(4));
  Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(64 << 20));
  Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(64 << 20));
  Config::SetDefault("ns3::TcpSocketBase::Sack", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(delAckCount));
  Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MicroSeconds(static_cast<uint64_t>(minRtoMs * 1000))));

  NodeContainer nodes;
  nodes.Create(2);
  PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(rateBps))));
  p2p.SetChannelAttribute("Delay", TimeValue(MicroSeconds(static_cast<uint64_t>(delayMs * 1000))));
  p2p.SetQueue("ns3::DropTailQueue", "MaxSize", QueueSizeValue(QueueSize(std::to_string(queue) + "p")));
  NetDeviceContainer dev = p2p.Install(nodes);
  dev.Get(1)->SetAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(revRateBps))));

  InternetStackHelper stack;
  stack.Install(nodes);
  Ipv4AddressHelper addr;
  addr.SetBase("10.1.1.0", "255.255.255.0");
  Ipv4InterfaceContainer ifs = addr.Assign(dev);
  // Assigning the addresses installed the default queue discipline: take it away again.
  TrafficControlHelper tch;
  tch.Uninstall(dev);

  if (loss > 0) {
    Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
    em->SetAttribute("ErrorUnit", EnumValue(RateErrorModel::ERROR_UNIT_PACKET));
    em->SetAttribute("ErrorRate", DoubleValue(loss));
    dev.Get(1)->SetAttribute("ReceiveErrorModel", PointerValue(em));
    dev.Get(1)->TraceConnectWithoutContext("PhyRxDrop", MakeCallback(&OnErrorDrop));
  }

  uint16_t port = 9;
  PacketSinkHelper sink("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
  ApplicationContainer sinkApp = sink.Install(nodes.Get(1));
  sinkApp.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&OnRx));
  BulkSendHelper bulk("ns3::TcpSocketFactory", InetSocketAddress(ifs.GetAddress(1), port));
  bulk.SetAttribute("MaxBytes", UintegerValue(bytes));
  bulk.SetAttribute("SendSize", UintegerValue(1164));
  ApplicationContainer bulkApp = bulk.Install(nodes.Get(0));
  bulkApp.Get(0)->TraceConnectWithoutContext("Tx", MakeCallback(&OnTx));
  sinkApp.Start(Seconds(0));
  bulkApp.Start(Seconds(0));
  // The sender's socket exists once its application started.
  Simulator::Schedule(MicroSeconds(1), &WatchSender);
  Simulator::Stop(Seconds(3600));
  Simulator::Run();
  Simulator::Destroy();
  // Simulated seconds from the first data sent (the handshake done) to the last byte received.
  std::printf("{\"bytes\":%llu,\"received\":%llu,\"durationS\":%.6f,\"lossDrops\":%u,\"recoveries\":%u,\"timeouts\":%u}\n",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(g_received), g_done < 0 ? -1.0 : g_done - g_firstTx, g_lost, g_recoveries, g_timeouts);
  return g_done < 0 ? 1 : 0;
}
