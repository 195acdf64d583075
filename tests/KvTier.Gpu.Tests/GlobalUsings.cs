global using ILGPU;
global using ILGPU.Runtime;
global using ILGPU.Runtime.CPU;
