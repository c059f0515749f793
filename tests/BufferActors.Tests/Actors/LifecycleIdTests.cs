using BufferActors.Actors;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

public sealed class LifecycleIdTests
{
    [Theory]
    [InlineData("export", 1, 42L)]
    [InlineData("import", 32751, 1L)]
    [InlineData("map", 0, long.MaxValue)]
    public void TryParseReadsWhatToStringWrites(string kindName, int domain, long sequence)
    {
        Assert.True(LifecycleKind.TryParse(kindName, out var kind));
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

    [Theory]
    [InlineData("")]
    [InlineData("Export1")]
    [InlineData("ex-port")]
    [InlineData("ëxport")]
    public void AKindIsNamedInLowerCaseLetters(string name) => Assert.Throws<ArgumentException>(() => LifecycleKind.Define(name, 9));

    [Fact]
    public void TheKindsSortAndPrintAsBefore()
    {
        Assert.Equal([LifecycleKind.Map, LifecycleKind.Export, LifecycleKind.Import], LifecycleKind.All.Take(3));
        Assert.Equal("Export", LifecycleKind.Export.ToString());
        Assert.Equal("export", LifecycleKind.Export.Name);
        Assert.Same(LifecycleKind.Export.Name, LifecycleKind.Define("export", 1).Name); // defined once
    }
}
