using BufferActors.Actors.Hosting;

namespace BufferActors.Tests;

/// <summary>The product assemblies carry the product only: the simulator is the CLI's and the tests' business.</summary>
public sealed class ProductAssemblyTests
{
    [Theory]
    [InlineData(typeof(BufferActorsOptions))]      // BufferActors.Actors
    [InlineData(typeof(Native.IGrantDevice))]      // BufferActors.Native
    public void AProductAssemblyDoesNotReferenceTheSimulator(Type inProduct)
    {
        var references = inProduct.Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("BufferActors.Simulation", references);
        Assert.DoesNotContain("bufferactors", references); // nor the CLI
        Assert.DoesNotContain(inProduct.Assembly.GetTypes(), t => t.Namespace?.StartsWith("BufferActors.Native.Simulation", StringComparison.Ordinal) == true);
    }
}
