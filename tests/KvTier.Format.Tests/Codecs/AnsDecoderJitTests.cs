using System.Reflection;
using System.Runtime.CompilerServices;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>
/// The decoder's loop methods are fully optimized from their first call: with tiered compilation they would otherwise
/// run as on-stack-replacement code, at about half speed, for a process's first sections (see <see cref="AnsDecoder"/>).
/// </summary>
public sealed class AnsDecoderJitTests
{
    [Theory]
    [InlineData("DecodeRounds")]
    [InlineData("DecodeVectorBlock")]
    [InlineData("DecodeScalarOneTable")]
    [InlineData("DecodeScalar")]
    [InlineData("DecodeSearch")]
    [InlineData("Run")]
    [InlineData("BuildLookup")]
    public void LoopMethodsAreAggressivelyOptimized(string name)
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        MethodInfo[] methods = typeof(AnsDecoder).GetNestedTypes(BindingFlags.NonPublic).Append(typeof(AnsDecoder))
            .SelectMany(type => type.GetMethods(All))
            .Where(method => method.Name == name)
            .ToArray();

        Assert.NotEmpty(methods);
        Assert.All(methods, method => Assert.True(
            method.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization),
            $"{method.DeclaringType!.Name}.{method.Name} is not AggressiveOptimization."));
    }
}
