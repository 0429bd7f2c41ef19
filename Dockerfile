# CacheCluster node image.
#   docker build -t cachecluster/node:dev .
#   docker run --rm -p 3128:3128 -v cc-data:/data cachecluster/node:dev
# Build stage: restore (cached while project files are unchanged), then publish the node.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props ./
COPY src/Caching/Caching.csproj src/Caching/
COPY src/Contracts/Contracts.csproj src/Contracts/
COPY src/Grains/Grains.csproj src/Grains/
COPY src/Node/Node.csproj src/Node/
RUN dotnet restore src/Node/Node.csproj
COPY src/ src/
RUN dotnet publish src/Node/Node.csproj -c Release --no-restore -o /app -p:UseAppHost=false -p:DebugType=none

# Run stage: the ASP.NET runtime only, as the image's non-root "app" user (UID 1654).
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS run
WORKDIR /app
COPY --from=build /app ./
# The store (FASTER log + checkpoints) lives on a volume so a restarted container comes back warm.
RUN mkdir -p /data && chown 1654:1654 /data
VOLUME /data
# Inside a container the proxy listens on every address of the container's own network namespace.
ENV Store__Directory=/data \
    Proxy__Listen=0.0.0.0:3128
# 3128 proxy (and /proxy.pac, /wpad.dat), 3129 management, 11111 silo, 30000 gateway.
EXPOSE 3128 3129 11111 30000
USER 1654
ENTRYPOINT ["dotnet", "CacheCluster.Node.dll"]
