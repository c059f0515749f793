using BufferActors.Actors;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

public sealed class LifecycleIdTests
{
    [Theory]
    [InlineData(LifecycleKind.Export, 1, 42L)]
    [InlineData(LifecycleKind.Import, 32751, 1L)]
    [InlineData(LifecycleKind.Map, 0, long.MaxValue)]
    public void TryParseReadsWhatToStringWrites(LifecycleKind kind, int domain, long sequence)
    {
        var id = new LifecycleId(kind, new DomainId((ushort)domain), sequence);
        Assert.True(LifecycleId.TryParse(id.ToString(), out var parsed));
        Assert.Equal(id, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("d1")]
    [InlineData("1/export-3")]
    [InlineData("d1/export")]
    [InlineData("d1/export-")]
    [InlineData("d1/-3")]
    [InlineData("d1/flip-3")]
    [InlineData("d1/1-3")]
    [InlineData("d-1/export-3")]
    [InlineData("d70000/export-3")]
    [InlineData("d1/export-3/x")]
    public void TryParseRefusesAnythingElse(string text) => Assert.False(LifecycleId.TryParse(text, out _));
}
