using System.Diagnostics;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Compression;

// Compresses real files with the node's encoder (FormEncoder, default Cache:Compression settings unless overridden)
// and prints, per kind, the bytes saved and the CPU time per MiB of input. Files the node would leave alone (under
// MinSize, over MaxSize) are skipped, as is a form that would not save a twentieth (the node serves identity then).
// Usage: dotnet run -c Release --project bench/compression -- [--max-files N] [--brotli-quality Q] [--gzip-level L] DIR...
int maxFiles = 400;
var settings = CompressionSettings.Default;
var roots = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--max-files": maxFiles = int.Parse(args[++i]); break;
        case "--brotli-quality": settings = new CompressionSettings { BrotliQuality = int.Parse(args[++i]), GzipLevel = settings.GzipLevel }; break;
        case "--gzip-level": settings = new CompressionSettings { BrotliQuality = settings.BrotliQuality, GzipLevel = int.Parse(args[++i]) }; break;
        default: roots.Add(args[i]); break;
    }
}
if (roots.Count == 0) roots.AddRange(["/usr/share/doc", "/usr/share/javascript", "/usr/share/nodejs", "/usr/share", "/usr/lib"]);

var kinds = new (string Kind, string[] Extensions)[]
{
    ("HTML", [".html", ".htm"]), ("CSS", [".css"]), ("JS", [".js", ".mjs"]), ("JSON", [".json"]),
};
var seen = new HashSet<string>(); // the same file reached through two roots counts once
Console.WriteLine($"brotli quality {settings.BrotliQuality}, gzip level {settings.GzipLevel}, files {ByteSizeText(settings.MinBytes)}..{ByteSizeText(settings.MaxBytes)}, at most {maxFiles} per kind");
Console.WriteLine($"{"kind",-6} {"files",6} {"identity",12} {"gzip",12} {"saved",7} {"br",12} {"saved",7} {"gzip ms/MiB",12} {"br ms/MiB",10}");
long allIn = 0, allGzip = 0, allBr = 0;
int allFiles = 0;
double allGzipMs = 0, allBrMs = 0;
foreach (var (kind, extensions) in kinds)
{
    var files = roots.Where(Directory.Exists)
        .SelectMany(root => Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        .Where(f => extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
        .Where(f => { var n = new FileInfo(f).Length; return n >= settings.MinBytes && n <= settings.MaxBytes; })
        .Where(seen.Add)
        .OrderBy(f => f, StringComparer.Ordinal)
        .Take(maxFiles)
        .ToList();
    long input = 0, gzip = 0, br = 0;
    double gzipMs = 0, brMs = 0;
    foreach (var file in files)
    {
        var body = File.ReadAllBytes(file);
        var chunks = EncodedBody.Split(body);
        input += body.Length;
        gzip += Encode("gzip", ref gzipMs);
        br += Encode("br", ref brMs);

        long Encode(string coding, ref double ms)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var form = FormEncoder.Encode(chunks, body.Length, coding, settings);
            ms += (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
            // The node serves identity when the form does not save a twentieth.
            return form.Length > body.Length - body.Length / 20 ? body.Length : form.Length;
        }
    }
    Print(kind, files.Count, input, gzip, br, gzipMs, brMs);
    (allIn, allGzip, allBr, allGzipMs, allBrMs) = (allIn + input, allGzip + gzip, allBr + br, allGzipMs + gzipMs, allBrMs + brMs);
    allFiles += files.Count;
}
Print("all", allFiles, allIn, allGzip, allBr, allGzipMs, allBrMs);

static void Print(string kind, int files, long input, long gzip, long br, double gzipMs, double brMs)
{
    double mib = input / 1048576.0;
    Console.WriteLine($"{kind,-6} {files,6} {ByteSizeText(input),12} {ByteSizeText(gzip),12} {Saved(input, gzip),7} {ByteSizeText(br),12} {Saved(input, br),7} {gzipMs / Math.Max(mib, 1e-9),12:F1} {brMs / Math.Max(mib, 1e-9),10:F1}");
}

static string Saved(long input, long output) => input == 0 ? "-" : $"{100.0 * (input - output) / input:F1}%";

static string ByteSizeText(long bytes) => bytes >= 1 << 20 ? $"{bytes / 1048576.0:F2} MiB" : $"{bytes / 1024.0:F1} KiB";
