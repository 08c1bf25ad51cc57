using FastConv.OpenCL;
using FastConv.OpenCL.Cl;

namespace FastConv.Tests.OpenCL;

/// <summary>What is particular to the OpenCL backend (its numerics are in the parity suite, which runs it whenever a
/// device exists). Without a platform these tests are skipped with the registry's reason; .ci/run installs PoCL.</summary>
public class OpenClBackendTests
{
    private static OpenClBackend Backend()
    {
        var info = BackendRegistry.List().Single(b => b.Name == "opencl");
        if (!info.IsAvailable) Assert.Ignore($"no OpenCL device here: {info.Reason}");
        return (OpenClBackend)BackendRegistry.Get("opencl");
    }

    [Test]
    public void KernelThatFailsToCompile_ThrowsWithTheWholeBuildLog()
    {
        var be = Backend();
        const string broken = "__kernel void fc_f32_broken(__global float* y) { y[0] = undeclared_thing + 1.0f; }";
        var e = Assert.Throws<OpenClBuildException>(() => be.Runtime.Build("broken.cl", broken, "-cl-std=CL1.2"));
        Assert.That(e!.Message, Does.Contain("broken.cl").And.Contain("CL_BUILD_PROGRAM_FAILURE"));
        Assert.That(e.BuildLog, Does.Contain("undeclared_thing"), "the compiler's own log names the problem");
        Assert.That(e.Message, Does.Contain(e.BuildLog));
    }

    [Test]
    public void TooLargeDeviceAllocation_IsRefusedWithTheDeviceLimit()
    {
        var be = Backend();
        long floats = be.Device.MaxAllocation / 4 + 1;
        int side = (int)Math.Ceiling(Math.Sqrt(floats));
        var e = Assert.Throws<OutOfMemoryException>(() => be.Allocate([side, side]));
        Assert.That(e!.Message, Does.Contain("CL_DEVICE_MAX_MEM_ALLOC_SIZE").And.Contain(be.Device.Name));
    }

    [Test]
    public void DisposingTheBackendWhileTensorsLive_GivesAClearErrorAndNoCrash()
    {
        Backend();
        var be = new OpenClBackend();
        var t = be.Allocate([2, 3]);
        t.CopyFrom([1, 2, 3, 4, 5, 6]);
        using var plan = be.CreatePool2d(new Pool2dDesc(PoolKind.Max, 1, 1, 2, 3, 2, 1));
        be.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => t.ToArray());
        Assert.That(e!.Message, Does.Contain("OpenCL backend").And.Contain("has been disposed"));
        Assert.Throws<ObjectDisposedException>(() => be.Allocate([1]));
        Assert.Throws<ObjectDisposedException>(() => be.ReluForward(t, t));
        Assert.DoesNotThrow(() => t.Dispose(), "a tensor of a disposed backend can still be released");
        Assert.DoesNotThrow(() => be.Dispose(), "disposing twice is harmless");
    }

    [Test]
    public void TensorsStayOnTheDevice_AndHostCodeIsToldToCopy()
    {
        var be = Backend();
        using var t = be.Allocate([4]);
        Assert.That(t.IsHost, Is.False);
        var e = Assert.Throws<InvalidOperationException>(() => _ = t.Span.Length);
        Assert.That(e!.Message, Does.Contain("ToArray() or To(backend)"));
        using var host = BackendRegistry.Get("managed").Allocate([4]);
        var e2 = Assert.Throws<ArgumentException>(() => be.ReluForward(host, t));
        Assert.That(e2!.Message, Does.Contain("lives on backend 'managed'"));
        Assert.That(be.Allocate([3]).ToArray(), Is.EqualTo(new float[3]), "new device tensors are zero-filled like host ones");
    }

    [Test]
    public void DeviceSelection_ByIndexOrName_AndAnUnknownOneListsTheDevices()
    {
        var be = Backend();
        Assert.That(OpenClDevices.Select("0").Name, Is.EqualTo(OpenClDevices.List()[0].Name));
        Assert.That(OpenClDevices.Select(be.Device.Name[..4]).Name, Is.EqualTo(be.Device.Name));
        var e = Assert.Throws<ArgumentException>(() => OpenClDevices.Select("no-such-device"));
        Assert.That(e!.Message, Does.Contain("no device matches 'no-such-device'").And.Contain(be.Device.Name));
        Assert.Throws<ArgumentException>(() => OpenClDevices.Select("99"));
    }

    [Test]
    public void Implementations_NameTheDevice()
    {
        var be = Backend();
        using var conv = be.CreateConv2d(new Conv2dDesc(1, 2, 5, 5, 3, 3, 3, padding: 1));
        Assert.That(conv.Implementation, Is.EqualTo($"opencl:{be.DeviceName}:direct-16x4"));
        Assert.That(be.PreferredForAuto, Is.EqualTo(!be.Device.IsCpu));
    }
}
