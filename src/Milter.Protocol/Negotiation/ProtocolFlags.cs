namespace Milter.Protocol.Negotiation;

/// <summary>SMFIP_* protocol flags (mfdef.h): stages to skip, replies not awaited, and extensions.</summary>
[Flags]
public enum ProtocolFlags : uint
{
    None = 0,
    NoConnect = 0x1,          // SMFIP_NOCONNECT
    NoHelo = 0x2,             // SMFIP_NOHELO
    NoMail = 0x4,             // SMFIP_NOMAIL
    NoRcpt = 0x8,             // SMFIP_NORCPT
    NoBody = 0x10,            // SMFIP_NOBODY
    NoHeaders = 0x20,         // SMFIP_NOHDRS
    NoEoh = 0x40,             // SMFIP_NOEOH
    NoReplyHeader = 0x80,     // SMFIP_NR_HDR (also SMFIP_NOHREPL)
    NoUnknown = 0x100,        // SMFIP_NOUNKNOWN, v6
    NoData = 0x200,           // SMFIP_NODATA, v6
    Skip = 0x400,             // SMFIP_SKIP, v6: MTA understands SMFIS_SKIP
    RcptRejected = 0x800,     // SMFIP_RCPT_REJ, v6: also send rejected RCPTs
    NoReplyConnect = 0x1000,  // SMFIP_NR_CONN, v6
    NoReplyHelo = 0x2000,     // SMFIP_NR_HELO, v6
    NoReplyMail = 0x4000,     // SMFIP_NR_MAIL, v6
    NoReplyRcpt = 0x8000,     // SMFIP_NR_RCPT, v6
    NoReplyData = 0x10000,    // SMFIP_NR_DATA, v6
    NoReplyUnknown = 0x20000, // SMFIP_NR_UNKN, v6
    NoReplyEoh = 0x40000,     // SMFIP_NR_EOH, v6
    NoReplyBody = 0x80000,    // SMFIP_NR_BODY, v6
    HeaderLeadingSpace = 0x100000, // SMFIP_HDR_LEADSPC, v6
    MaxDataSize256K = 0x10000000,  // SMFIP_MDS_256K
    MaxDataSize1M = 0x20000000,    // SMFIP_MDS_1M
}
