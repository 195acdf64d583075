using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KvTier.Remote.Protocol;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Remote.Tests;

/// <summary>TLS with a server certificate: a pinned client shares records; a wrong pin or an untrusted certificate is refused.</summary>
public class TlsTests
{
    [Fact]
    public async Task A_client_pinning_the_certificate_shares_records_over_TLS()
    {
        using X509Certificate2 certificate = SelfSigned();
        await using ServerFixture fixture = ServerFixture.Start(o => o with { Certificate = certificate });
        string pin = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
        await using KvCacheClient client = await fixture.ConnectAsync(o => o with { UseTls = true, PinnedCertificateSha256 = pin, TlsTargetHost = "localhost" });
        byte[] record = TestRecords.Create(1);

        await client.PutAsync(record);

        Assert.Equal(record, await client.GetAsync(TestRecords.Key(1)));
    }

    [Fact]
    public async Task A_wrong_pin_or_an_untrusted_certificate_is_a_TLS_failure()
    {
        using X509Certificate2 certificate = SelfSigned();
        await using ServerFixture fixture = ServerFixture.Start(o => o with { Certificate = certificate });

        var pinned = await Assert.ThrowsAsync<RemoteProtocolException>(() => fixture.ConnectAsync(o => o with { UseTls = true, PinnedCertificateSha256 = new string('A', 64) }));
        var untrusted = await Assert.ThrowsAsync<RemoteProtocolException>(() => fixture.ConnectAsync(o => o with { UseTls = true, TlsTargetHost = "localhost" }));
        var plain = await Assert.ThrowsAsync<RemoteProtocolException>(() => fixture.ConnectAsync(o => o with { ConnectTimeout = TimeSpan.FromSeconds(2) }));

        Assert.Equal(RemoteErrorCode.TlsFailure, pinned.Code);
        Assert.Equal(RemoteErrorCode.TlsFailure, untrusted.Code);
        Assert.NotEqual(RemoteErrorCode.AuthenticationFailed, plain.Code); // Plain TCP to a TLS server never gets as far as the secret.
    }

    internal static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pfx), null);
    }
}
