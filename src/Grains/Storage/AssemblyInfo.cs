using System.Runtime.CompilerServices;

// The store tests lower EntryStore.LogAddressLimit to exercise the address-space reset.
[assembly: InternalsVisibleTo("Store.Tests")]
