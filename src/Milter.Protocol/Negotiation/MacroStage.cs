namespace Milter.Protocol.Negotiation;

/// <summary>SMFIM_* macro stage indices used in the SETSYMLIST part of the OPTNEG reply.</summary>
public enum MacroStage : uint
{
    Connect = 0,  // SMFIM_CONNECT
    Helo = 1,     // SMFIM_HELO
    EnvFrom = 2,  // SMFIM_ENVFROM
    EnvRcpt = 3,  // SMFIM_ENVRCPT
    Data = 4,     // SMFIM_DATA
    EndOfMessage = 5, // SMFIM_EOM
    EndOfHeaders = 6, // SMFIM_EOH
}
