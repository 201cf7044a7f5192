-- Packet Lab wire format: a Wireshark dissector (Lua, Wireshark 3.6 and later, Lua 5.2 to 5.4).
--
-- Install: copy this file into Wireshark's personal Lua plugins folder (Help > About Wireshark >
-- Folders > "Personal Lua Plugins"; on Linux and macOS ~/.local/lib/wireshark/plugins/, on Windows
-- %APPDATA%\Wireshark\plugins\) and restart Wireshark, or load it for one run with
-- `tshark -X lua_script:tools/wireshark/packetlab.lua -r capture.pcapng`. See docs/wireshark.md.
--
-- The lab runs on any UDP port, so this is a heuristic UDP dissector: a datagram is Packet Lab
-- when it is at least 36 bytes long and starts with the magic "PL" (0x504c) and version 1. It
-- can also be chosen with Decode As (UDP port). ONC RPC and everything else is left to
-- Wireshark's own dissectors.
--
-- Layout (core/wire/packet.ts, big-endian): magic u16, version u8, type u8, flags u8,
-- sack count u8, payload length u16, connection id u32, seq u32, ack u32, window u32 (bytes),
-- tsVal u32 (us), tsEcr u32 (us), checksum u32 = CRC32C (Castagnoli) over the whole datagram with
-- the checksum field zero; then sack count blocks of (start u32, end u32); then the payload.
-- SYN payloads are options (core/wire/handshake.ts), REPORT payloads receiver counters
-- (core/stream/report.ts), RST payloads a UTF-8 reason.
--
-- Frames of a lab capture that the emulated link dropped, duplicated, held back, reordered or
-- corrupted carry a pcapng comment (core/capture/annotate.ts); it is read back into the
-- packetlab.link.* fields so that, for example, `packetlab.link.dropped` filters the drops.

local HEADER_BYTES = 36
local MAGIC = 0x504c
local VERSION = 1
local MAX_SACK_BLOCKS = 4
local KNOWN_FLAGS = 0x07

-- Bit operations for Lua 5.2 (bit32) and 5.3+ (operators, compiled at run time so that a 5.2
-- parser never sees them).
local band, bxor, rshift
if bit32 ~= nil then
  band, bxor, rshift = bit32.band, bit32.bxor, bit32.rshift
else
  band = load("return function(a, b) return a & b end")()
  bxor = load("return function(a, b) return a ~ b end")()
  rshift = load("return function(a, n) return (a & 0xffffffff) >> n end")()
end

-- CRC32C, reflected polynomial 0x82F63B78 (RFC 3720 (B.4)), one table lookup per byte.
local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if band(c, 1) ~= 0 then c = bxor(rshift(c, 1), 0x82F63B78) else c = rshift(c, 1) end
  end
  CRC_TABLE[i] = c
end

local function crc32c(s)
  local crc = 0xffffffff
  local byte = string.byte
  for i = 1, #s do
    crc = bxor(rshift(crc, 8), CRC_TABLE[band(bxor(crc, byte(s, i)), 0xff)])
  end
  return bxor(crc, 0xffffffff)
end

local TYPE_NAMES = {
  [1] = "DATA", [2] = "ACK", [3] = "SYN", [4] = "SYN-ACK", [5] = "FIN",
  [6] = "RST", [7] = "PROBE", [8] = "UDATA", [9] = "REPORT",
}
local CHECKSUM_STATUS = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }
local SERVICES = { [1] = "reliable", [2] = "stream" }
local ARQ_MODES = { [1] = "stop-and-wait (saw)", [2] = "go-back-N (gbn)", [3] = "selective repeat (sr)" }

local p = Proto("packetlab", "Packet Lab")

local f = {
  magic = ProtoField.uint16("packetlab.magic", "Magic", base.HEX),
  version = ProtoField.uint8("packetlab.version", "Version", base.DEC),
  type = ProtoField.uint8("packetlab.type", "Type", base.DEC, TYPE_NAMES),
  flags = ProtoField.uint8("packetlab.flags", "Flags", base.HEX),
  flag_ack = ProtoField.bool("packetlab.flags.ack", "ACK (ack and window are meaningful)", 8, nil, 0x01),
  flag_msg_end = ProtoField.bool("packetlab.flags.msg_end", "MSG_END (payload ends a message)", 8, nil, 0x02),
  flag_echo = ProtoField.bool("packetlab.flags.echo", "ECHO (tsEcr echoes the peer)", 8, nil, 0x04),
  flag_reserved = ProtoField.uint8("packetlab.flags.reserved", "Undefined bits", base.HEX, nil, 0xf8),
  sack_count = ProtoField.uint8("packetlab.sack_count", "SACK blocks", base.DEC),
  payload_length = ProtoField.uint16("packetlab.payload_length", "Payload length", base.DEC),
  conn_id = ProtoField.uint32("packetlab.conn_id", "Connection id", base.HEX),
  seq = ProtoField.uint32("packetlab.seq", "Sequence number", base.DEC),
  ack = ProtoField.uint32("packetlab.ack", "Acknowledgment number", base.DEC),
  window = ProtoField.uint32("packetlab.window", "Window (bytes)", base.DEC),
  tsval = ProtoField.uint32("packetlab.tsval", "Timestamp value (us)", base.DEC),
  tsecr = ProtoField.uint32("packetlab.tsecr", "Timestamp echo reply (us)", base.DEC),
  checksum = ProtoField.uint32("packetlab.checksum", "Checksum (CRC32C)", base.HEX),
  checksum_calculated = ProtoField.uint32("packetlab.checksum.calculated", "Calculated checksum", base.HEX),
  checksum_status = ProtoField.uint8("packetlab.checksum.status", "Checksum status", base.DEC, CHECKSUM_STATUS),
  parse_error = ProtoField.string("packetlab.parse_error", "Malformed"),
  sack_block = ProtoField.bytes("packetlab.sack", "SACK block"),
  sack_start = ProtoField.uint32("packetlab.sack.start", "Start", base.DEC),
  sack_end = ProtoField.uint32("packetlab.sack.end", "End", base.DEC),
  payload = ProtoField.bytes("packetlab.payload", "Payload"),

  syn_service = ProtoField.uint8("packetlab.syn.service", "Service", base.DEC, SERVICES),
  syn_version = ProtoField.uint8("packetlab.syn.version", "Options version", base.DEC),
  syn_arq = ProtoField.uint8("packetlab.syn.arq", "ARQ mode", base.DEC, ARQ_MODES),
  syn_flags = ProtoField.uint8("packetlab.syn.flags", "Options flags", base.HEX),
  syn_sack = ProtoField.bool("packetlab.syn.sack", "SACK", 8, nil, 0x01),
  syn_verify = ProtoField.bool("packetlab.syn.verify_checksum", "Verify checksums", 8, nil, 0x02),
  syn_digest = ProtoField.bool("packetlab.syn.verify_data", "Verify data", 8, nil, 0x04),
  syn_mss = ProtoField.uint16("packetlab.syn.mss", "MSS (bytes)", base.DEC),
  syn_ack_every = ProtoField.uint16("packetlab.syn.ack_every", "ACK every (packets)", base.DEC),
  syn_ack_delay = ProtoField.uint32("packetlab.syn.ack_delay_us", "ACK delay (us)", base.DEC),
  syn_rcv_buffer = ProtoField.uint32("packetlab.syn.rcv_buffer", "Receive buffer (bytes)", base.DEC),
  syn_read_rate = ProtoField.uint32("packetlab.syn.read_rate", "Read rate (bytes/s, 0 = unlimited)", base.DEC),
  syn_pattern_seed = ProtoField.uint32("packetlab.syn.pattern_seed", "Data pattern seed", base.DEC),
  syn_datagram = ProtoField.uint16("packetlab.syn.datagram_bytes", "Datagram size (bytes)", base.DEC),
  syn_rate = ProtoField.uint32("packetlab.syn.rate_pps", "Rate (packets/s)", base.DEC),
  syn_duration = ProtoField.uint32("packetlab.syn.duration_ms", "Duration (ms)", base.DEC),
  syn_report_interval = ProtoField.uint32("packetlab.syn.report_interval_ms", "Report interval (ms)", base.DEC),

  report_version = ProtoField.uint8("packetlab.report.version", "Report version", base.DEC),
  report_final = ProtoField.bool("packetlab.report.final", "Final", 8, nil, 0x01),
  report_received = ProtoField.double("packetlab.report.packets_received", "Packets received"),
  report_bytes = ProtoField.double("packetlab.report.bytes_received", "Bytes received"),
  report_expected = ProtoField.double("packetlab.report.packets_expected", "Packets expected"),
  report_lost = ProtoField.double("packetlab.report.lost", "Lost"),
  report_reordered = ProtoField.double("packetlab.report.reordered", "Reordered"),
  report_duplicates = ProtoField.double("packetlab.report.duplicates", "Duplicates"),
  report_jitter = ProtoField.double("packetlab.report.jitter_ms", "Jitter (ms)"),
  report_kernel_drops = ProtoField.double("packetlab.report.kernel_drops", "Kernel drops (NaN: unknown)"),
  report_checksum_failures = ProtoField.double("packetlab.report.checksum_failures", "Checksum failures"),

  rst_reason = ProtoField.string("packetlab.rst.reason", "Reason"),

  link = ProtoField.string("packetlab.link", "Link annotation"),
  link_dropped = ProtoField.bool("packetlab.link.dropped", "Dropped by the link"),
  link_drop_reason = ProtoField.string("packetlab.link.drop_reason", "Drop reason"),
  link_duplicate = ProtoField.bool("packetlab.link.duplicate", "Duplicate copy"),
  link_held_back = ProtoField.bool("packetlab.link.held_back", "Held back (reorder delay)"),
  link_reordered = ProtoField.bool("packetlab.link.reordered", "Arrived after a datagram sent later"),
  link_corrupted = ProtoField.bool("packetlab.link.corrupted", "Corrupted by the link"),
  link_flipped_bit = ProtoField.uint32("packetlab.link.flipped_bit", "Flipped bit", base.DEC),
}
local field_list = {}
for _, v in pairs(f) do field_list[#field_list + 1] = v end
p.fields = field_list

local ef = {
  bad_checksum = ProtoExpert.new("packetlab.checksum.bad.expert", "Bad checksum (CRC32C)", expert.group.CHECKSUM, expert.severity.ERROR),
  malformed = ProtoExpert.new("packetlab.malformed", "Malformed Packet Lab datagram", expert.group.MALFORMED, expert.severity.ERROR),
  dropped = ProtoExpert.new("packetlab.link.dropped.expert", "Dropped by the lab's emulated link", expert.group.SEQUENCE, expert.severity.NOTE),
  impaired = ProtoExpert.new("packetlab.link.impaired.expert", "Duplicated, held back, reordered or corrupted by the lab's emulated link", expert.group.SEQUENCE, expert.severity.NOTE),
}
p.experts = { ef.bad_checksum, ef.malformed, ef.dropped, ef.impaired }

-- frame.comment holds the pcapng comments of the frame (Wireshark 3.6+); absent, the annotations
-- are simply not decoded.
local comment_field = nil
do
  local ok, fld = pcall(Field.new, "frame.comment")
  if ok then comment_field = fld end
end

-- Adds the link annotations of the frame's comments; returns true when the link dropped it.
local function add_link_annotations(tvb, tree)
  if comment_field == nil then return false end
  local dropped = false
  for _, fi in ipairs({ comment_field() }) do
    local text = tostring(fi.value)
    local sub = nil
    for item in (text .. "; "):gmatch("(.-); ") do
      local kind, detail = item:match("^(%a[%a ]-): (.*)$")
      if kind == "dropped" or kind == "duplicate" or kind == "held back" or kind == "reordered" or kind == "corrupted" then
        if sub == nil then sub = tree:add(f.link, tvb(0, 0), text):set_generated() end
        if kind == "dropped" then
          dropped = true
          sub:add(f.link_dropped, tvb(0, 0), true):set_generated()
          sub:add(f.link_drop_reason, tvb(0, 0), (detail:match("^([^(]-)%s*%(") or detail)):set_generated()
          sub:add_proto_expert_info(ef.dropped, "Dropped by the lab's link: " .. detail)
        else
          if kind == "duplicate" then sub:add(f.link_duplicate, tvb(0, 0), true):set_generated() end
          if kind == "held back" then sub:add(f.link_held_back, tvb(0, 0), true):set_generated() end
          if kind == "reordered" then sub:add(f.link_reordered, tvb(0, 0), true):set_generated() end
          if kind == "corrupted" then
            sub:add(f.link_corrupted, tvb(0, 0), true):set_generated()
            local bits = detail:match("^bits? ([%d, ]+) flipped")
            if bits ~= nil then
              for n in bits:gmatch("%d+") do sub:add(f.link_flipped_bit, tvb(0, 0), tonumber(n)):set_generated() end
            end
          end
          sub:add_proto_expert_info(ef.impaired, item)
        end
      end
    end
  end
  return dropped
end

local function dissect_syn(tvb, tree)
  if tvb:len() ~= 24 then return end
  local t = tree:add(p, tvb(), "SYN options")
  local service = tvb(0, 1):uint()
  t:add(f.syn_service, tvb(0, 1))
  t:add(f.syn_version, tvb(1, 1))
  if service == 1 then
    t:add(f.syn_arq, tvb(2, 1))
    local fl = t:add(f.syn_flags, tvb(3, 1))
    fl:add(f.syn_sack, tvb(3, 1))
    fl:add(f.syn_verify, tvb(3, 1))
    fl:add(f.syn_digest, tvb(3, 1))
    t:add(f.syn_mss, tvb(4, 2))
    t:add(f.syn_ack_every, tvb(6, 2))
    t:add(f.syn_ack_delay, tvb(8, 4))
    t:add(f.syn_rcv_buffer, tvb(12, 4))
    t:add(f.syn_read_rate, tvb(16, 4))
    t:add(f.syn_pattern_seed, tvb(20, 4))
  elseif service == 2 then
    t:add(f.syn_datagram, tvb(4, 2))
    t:add(f.syn_rate, tvb(8, 4))
    t:add(f.syn_duration, tvb(12, 4))
    t:add(f.syn_report_interval, tvb(16, 4))
  end
end

local REPORT_FIELDS = {
  "report_received", "report_bytes", "report_expected", "report_lost", "report_reordered",
  "report_duplicates", "report_jitter", "report_kernel_drops", "report_checksum_failures",
}

local function dissect_report(tvb, tree)
  if tvb:len() ~= 4 + 9 * 8 or tvb(0, 1):uint() ~= 1 then return end
  local t = tree:add(p, tvb(), "Receiver report")
  t:add(f.report_version, tvb(0, 1))
  t:add(f.report_final, tvb(1, 1))
  for i, name in ipairs(REPORT_FIELDS) do t:add(f[name], tvb(4 + (i - 1) * 8, 8)) end
end

-- The lab parser's verdict (core/wire/packet.ts parseInto), checked in the same order.
local function parse_error(len, type_code, flags, sack_count, payload_length)
  if type_code < 1 or type_code > 9 then return "unknown-type" end
  if band(flags, 0xff - KNOWN_FLAGS) ~= 0 then return "unknown-flags" end
  if sack_count > MAX_SACK_BLOCKS then return "too-many-sack-blocks" end
  local total = HEADER_BYTES + sack_count * 8 + payload_length
  if len < total then return "truncated" end
  if len > total then return "length-mismatch" end
  return nil
end

local function dissect(tvb, pinfo, tree)
  local len = tvb:len()
  pinfo.cols.protocol = "PacketLab"
  local t = tree:add(p, tvb(0, len))
  local type_code = tvb(3, 1):uint()
  local flags = tvb(4, 1):uint()
  local sack_count = tvb(5, 1):uint()
  local payload_length = tvb(6, 2):uint()

  t:add(f.magic, tvb(0, 2))
  t:add(f.version, tvb(2, 1))
  t:add(f.type, tvb(3, 1))
  local ft = t:add(f.flags, tvb(4, 1))
  ft:add(f.flag_ack, tvb(4, 1))
  ft:add(f.flag_msg_end, tvb(4, 1))
  ft:add(f.flag_echo, tvb(4, 1))
  if band(flags, 0xf8) ~= 0 then ft:add(f.flag_reserved, tvb(4, 1)) end
  t:add(f.sack_count, tvb(5, 1))
  t:add(f.payload_length, tvb(6, 2))
  t:add(f.conn_id, tvb(8, 4))
  t:add(f.seq, tvb(12, 4))
  t:add(f.ack, tvb(16, 4))
  t:add(f.window, tvb(20, 4))
  t:add(f.tsval, tvb(24, 4))
  t:add(f.tsecr, tvb(28, 4))

  local stored = tvb(32, 4):uint()
  local raw = tvb:raw(0, len)
  local computed = crc32c(raw:sub(1, 32) .. "\0\0\0\0" .. raw:sub(37))
  local ct = t:add(f.checksum, tvb(32, 4))
  ct:add(f.checksum_calculated, tvb(32, 4), computed):set_generated()
  local good = computed == stored
  ct:add(f.checksum_status, tvb(32, 4), good and 1 or 0):set_generated()
  if not good then
    ct:append_text(string.format(" [incorrect, should be 0x%08x]", computed))
    ct:add_proto_expert_info(ef.bad_checksum, string.format("Bad checksum: 0x%08x, computed 0x%08x", stored, computed))
  else
    ct:append_text(" [correct]")
  end

  local present = math.min(sack_count, math.floor((len - HEADER_BYTES) / 8))
  for i = 0, present - 1 do
    local off = HEADER_BYTES + i * 8
    local st = t:add(f.sack_block, tvb(off, 8))
    st:set_text(string.format("SACK block %d: %u-%u", i + 1, tvb(off, 4):uint(), tvb(off + 4, 4):uint()))
    st:add(f.sack_start, tvb(off, 4))
    st:add(f.sack_end, tvb(off + 4, 4))
  end

  local err = parse_error(len, type_code, flags, sack_count, payload_length)
  local payload_offset = HEADER_BYTES + present * 8
  if err ~= nil then
    t:add(f.parse_error, tvb(0, len), err):set_generated()
    t:add_proto_expert_info(ef.malformed, "The lab's parser rejects this datagram: " .. err)
    if payload_offset < len then t:add(f.payload, tvb(payload_offset, len - payload_offset)) end
  elseif payload_length > 0 then
    local pt = tvb(payload_offset, payload_length)
    t:add(f.payload, pt)
    if type_code == 3 then dissect_syn(pt:tvb(), t)
    elseif type_code == 9 then dissect_report(pt:tvb(), t)
    elseif type_code == 6 then t:add_packet_field(f.rst_reason, pt, ENC_UTF_8) end
  end

  local dropped = add_link_annotations(tvb, t)

  local name = TYPE_NAMES[type_code] or string.format("type %d", type_code)
  local info = {}
  if dropped then info[#info + 1] = "[DROPPED]" end
  info[#info + 1] = string.format("%s conn=0x%08x seq=%u", name, tvb(8, 4):uint(), tvb(12, 4):uint())
  if band(flags, 0x01) ~= 0 then
    info[#info + 1] = string.format("ack=%u win=%u", tvb(16, 4):uint(), tvb(20, 4):uint())
  end
  if present > 0 then info[#info + 1] = string.format("sack=%d", present) end
  info[#info + 1] = string.format("len=%u", payload_length)
  if band(flags, 0x02) ~= 0 then info[#info + 1] = "MSG_END" end
  if not good then info[#info + 1] = "[BAD CHECKSUM]" end
  if err ~= nil then info[#info + 1] = "[MALFORMED: " .. err .. "]" end
  pinfo.cols.info = table.concat(info, " ")
  t:append_text(string.format(", %s, Seq: %u", name, tvb(12, 4):uint()))
  return len
end

function p.dissector(tvb, pinfo, tree)
  if tvb:len() < HEADER_BYTES then return 0 end
  return dissect(tvb, pinfo, tree)
end

local function heuristic(tvb, pinfo, tree)
  if tvb:len() < HEADER_BYTES then return false end
  if tvb(0, 2):uint() ~= MAGIC or tvb(2, 1):uint() ~= VERSION then return false end
  dissect(tvb, pinfo, tree)
  return true
end

p:register_heuristic("udp", heuristic)
DissectorTable.get("udp.port"):add_for_decode_as(p)
