using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Tests.Management.Observability;

/// <summary>The addresses the access log names: as Squid writes them, and the one a connection really reached.</summary>
public class PeerAddressesTests
{
    [Theory]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3")] // a dual-stack listener's IPv4 client
    [InlineData("10.1.2.3", "10.1.2.3")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    public void IPv4_mapped_addresses_are_written_as_IPv4(string seen, string logged) =>
        Assert.Equal(logged, PeerAddresses.Normalise(IPAddress.Parse(seen)).ToString());

    [Fact]
    public async Task The_address_a_connection_reached_is_remembered_by_host_and_port()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var peers = new PeerAddresses();
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        await socket.ConnectAsync(new DnsEndPoint("localhost", port));
        peers.Connected("LocalHost", port, socket);
        Assert.Equal("127.0.0.1", peers.Last("localhost", port)?.ToString());
        Assert.Null(peers.Last("localhost", port + 1));
    }
}
